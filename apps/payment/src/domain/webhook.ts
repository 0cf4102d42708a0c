// Bank webhooks as data: the body's shape, and the machine event each hold.* type means.
// Pure; the route verifies the signature on the raw bytes before any of this runs.
import { type Static, Type } from "@sinclair/typebox";
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

export type WebhookCheck = "match" | "mismatch" | "confirm_with_bank";

/**
 * Whether a (correctly signed) webhook fits the payment it names. A signature proves who sent
 * it, not that its facts belong to this payment: the amount and currency must be the payment's,
 * and the hold must be the payment's hold. Before the payment knows its hold (still
 * authorizing), the claim is confirmed with the bank before anything moves.
 */
export function checkWebhook(
  webhook: BankWebhook,
  payment: { holdId: string | null; amountMinor: number; currency: string },
): WebhookCheck {
  if (webhook.data.amountMinor !== payment.amountMinor || webhook.data.currency !== payment.currency) return "mismatch";
  if (payment.holdId === null) return "confirm_with_bank";
  return webhook.data.holdId === payment.holdId ? "match" : "mismatch";
}
