// What a bank hold's current status means to a payment: the one machine event it stands for. The
// bank's records are the truth every path converges on (the reconciler, a refused call, a webhook).
import type { PaymentEvent } from "./payment-machine";

/** The part of the bank's hold (BankModel.Hold) its meaning depends on. */
export interface HoldFacts {
  id: string;
  status: "held" | "captured" | "released" | "expired";
  capturedMinor: number;
  refundedMinor: number;
}

/** The machine event a bank hold's current status stands for. */
export function holdEvent(hold: HoldFacts): PaymentEvent {
  switch (hold.status) {
    case "held":
      return { type: "authorized", holdId: hold.id };
    case "captured":
      return hold.capturedMinor > 0 && hold.refundedMinor >= hold.capturedMinor
        ? { type: "refunded", transferId: null }
        : { type: "captured", holdId: hold.id, transferId: null };
    case "released":
      return { type: "released" };
    case "expired":
      return { type: "expired" };
  }
}
