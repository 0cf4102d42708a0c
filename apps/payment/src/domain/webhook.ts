// Bank webhooks as data: the body's shape, the machine event each hold.* type claims, and what the
// bank's own records must show before a claim is applied. Pure; the route verifies the signature on
// the raw bytes before any of this runs, and asks the bank (webhooks.ts) what these rules need.
import { type Static, Type } from "@sinclair/typebox";
import { type HoldFacts, holdEvent } from "./hold";
import type { PaymentEvent } from "./payment-machine";

export const WEBHOOK_TYPES = [
  "hold.authorized",
  "hold.captured",
  "hold.released",
  "hold.expired",
  "hold.failed",
] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export const BankWebhook = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
  createdAt: Type.String(),
  data: Type.Object({
    holdId: Type.Union([Type.String(), Type.Null()]),
    paymentRef: Type.String({ minLength: 1, maxLength: 200 }),
    amountMinor: Type.Integer(),
    currency: Type.String(),
    status: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    reason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
});
export type BankWebhook = Static<typeof BankWebhook>;

/** The machine event a webhook stands for; null for a type we do not know (acknowledged, ignored). */
export function webhookEvent(webhook: BankWebhook): PaymentEvent | null {
  const { holdId, reason } = webhook.data;
  switch (webhook.type) {
    case "hold.authorized":
      return holdId ? { type: "authorized", holdId } : null;
    case "hold.captured":
      return { type: "captured", holdId, transferId: null };
    case "hold.released":
      return { type: "released" };
    case "hold.expired":
      return { type: "expired" };
    case "hold.failed":
      return { type: "authorize_failed", reason: reason ?? "declined" };
    default:
      return null;
  }
}

/** The bank status each claim says the hold reached (hold.failed: the bank refused the authorize). */
const CLAIMED: Record<WebhookType, HoldFacts["status"] | "failed"> = {
  "hold.authorized": "held",
  "hold.captured": "captured",
  "hold.released": "released",
  "hold.expired": "expired",
  "hold.failed": "failed",
};

/**
 * Whether a (correctly signed) webhook can be about this payment at all: the amount and currency
 * must be the payment's and, once the payment knows its hold, the hold must be that one.
 */
export function fitsPayment(
  webhook: BankWebhook,
  payment: { holdId: string | null; amountMinor: number; currency: string },
): boolean {
  if (webhook.data.amountMinor !== payment.amountMinor || webhook.data.currency !== payment.currency) return false;
  return payment.holdId === null || webhook.data.holdId === payment.holdId;
}

/** What the bank's stored answer to the payment's authorize (read by its idempotency key) makes of a webhook. */
export type AuthorizeCheck =
  /** The answer itself settles it: apply this (the bank's account, not the webhook's). */
  | { kind: "apply"; event: PaymentEvent }
  /** The hold is the payment's; what became of it is for the hold itself to say. */
  | { kind: "read_hold"; holdId: string }
  /** The bank did not do what the webhook says. */
  | { kind: "refuted" };

/**
 * A webhook for a payment that does not know its hold yet, against the bank's stored answer under
 * the payment's own key: a refusal confirms only hold.failed (with the bank's reason), a hold only
 * claims about that very hold.
 */
export function checkAgainstAuthorize(
  webhook: BankWebhook,
  answer: { status: "held" | "failed"; holdId: string | null; reason: string | null },
): AuthorizeCheck {
  if (answer.status === "failed")
    return webhook.type === "hold.failed"
      ? { kind: "apply", event: { type: "authorize_failed", reason: answer.reason ?? "declined" } }
      : { kind: "refuted" };
  if (webhook.type === "hold.failed" || !answer.holdId || answer.holdId !== webhook.data.holdId)
    return { kind: "refuted" };
  if (webhook.type === "hold.authorized")
    return { kind: "apply", event: { type: "authorized", holdId: answer.holdId } };
  return { kind: "read_hold", holdId: answer.holdId };
}

/**
 * The event a webhook comes to once the bank's hold bears it out: the hold's own meaning
 * (`holdEvent`), so a capture the bank reports refunded since is applied as refunded. Null when the
 * hold is not this payment's or does not show what the webhook claims (a capture, release or expiry
 * of a hold still held is exactly what a forged webhook would say). hold.authorized claims only
 * that a hold was placed; whatever became of it since is the bank's to say.
 */
export function confirmedByHold(
  webhook: BankWebhook,
  hold: HoldFacts & { paymentRef: string; amountMinor: number; currency: string },
  payment: { id: string; amountMinor: number; currency: string },
): PaymentEvent | null {
  if (hold.paymentRef !== payment.id || hold.amountMinor !== payment.amountMinor || hold.currency !== payment.currency)
    return null;
  if (hold.id !== webhook.data.holdId) return null;
  const claimed = CLAIMED[webhook.type as WebhookType];
  if (claimed === undefined || claimed === "failed") return null;
  if (webhook.type !== "hold.authorized" && hold.status !== claimed) return null;
  return holdEvent(hold);
}
