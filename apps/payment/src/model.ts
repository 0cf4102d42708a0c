// Payment HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types and the OpenAPI document.
import { Int, Uuid } from "@careforall/http";
import { t } from "elysia";
import { PAYMENT_STATUSES } from "./domain/payment-machine";
import { WEBHOOK_TYPES } from "./domain/webhook";

const Currency = t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")]);
const Status = t.UnionEnum(PAYMENT_STATUSES, { description: "Payment state (docs/money-path.md)" });
const NullableString = t.Union([t.String(), t.Null()]);

export namespace PaymentModel {
  export const Payment = t.Object({
    id: t.String({ format: "uuid" }),
    pledgeId: t.String({ format: "uuid" }),
    campaignId: t.String({ format: "uuid" }),
    amountMinor: Int(),
    currency: Currency,
    sourceAccountId: t.String(),
    status: Status,
    holdId: NullableString,
    captureTransferId: NullableString,
    refundTransferId: NullableString,
    failureReason: NullableString,
    cancelRequested: t.Boolean(),
    refundRequested: t.Boolean(),
    attempts: Int({ minimum: 0, description: "Bank calls that ended in an unknown outcome" }),
    nextAttemptAt: t.String({ format: "date-time" }),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
    version: Int({ minimum: 1 }),
  });
  export type Payment = typeof Payment.static;

  export const PaymentIdBody = t.Object({ paymentId: Uuid("paymentId") });
  export type PaymentIdBody = typeof PaymentIdBody.static;

  export const CaptureBody = t.Object({
    paymentId: Uuid("paymentId"),
    holdId: t.String({ minLength: 1, maxLength: 200 }),
  });
  export type CaptureBody = typeof CaptureBody.static;

  export const AuthorizeResponse = t.Object({ paymentId: t.String(), holdId: NullableString, status: Status });
  export type AuthorizeResponse = typeof AuthorizeResponse.static;

  export const CaptureResponse = t.Object({ paymentId: t.String(), transferId: NullableString, status: Status });
  export type CaptureResponse = typeof CaptureResponse.static;

  export const ReleaseResponse = t.Object({ paymentId: t.String(), status: Status });
  export type ReleaseResponse = typeof ReleaseResponse.static;

  export const PledgeParams = t.Object({ pledgeId: Uuid("pledgeId") });

  /** The bank's signed event or batch of events, exactly as sent: the signature covers these bytes. */
  export const WebhookBody = t.Unknown({
    description: 'Raw JSON text of the bank\'s event, or of a batch { "events": [ … ] } (1..100), signed byte for byte',
  });
  /**
   * What WebhookBody carries, for documentation: one bank event, or a batch of 1..100. (The route
   * itself takes the raw text, so the signature is checked before anything is parsed into a shape.)
   */
  export const WebhookEvent = t.Object(
    {
      id: t.String({ minLength: 1, maxLength: 200, description: "The event's id: the same id twice is applied once" }),
      type: t.UnionEnum(WEBHOOK_TYPES, { description: "Unknown types are acknowledged and ignored" }),
      createdAt: t.String({ format: "date-time" }),
      data: t.Object({
        holdId: t.Union([t.String(), t.Null()]),
        paymentRef: t.String({ minLength: 1, maxLength: 200, description: "The payment's id, as sent to the bank" }),
        amountMinor: t.Integer(),
        currency: Currency,
        status: t.Optional(t.Union([t.String(), t.Null()])),
        reason: t.Optional(t.Union([t.String(), t.Null()])),
      }),
    },
    { description: "One bank event" },
  );
  export const WebhookDocumented = t.Union([
    WebhookEvent,
    t.Object(
      { events: t.Array(WebhookEvent, { minItems: 1, maxItems: 100 }) },
      { description: "A batch, signed as a whole" },
    ),
  ]);
  export const WebhookHeaders = t.Object({
    "bank-signature": t.Optional(t.String({ description: "t=<unix>,v1=<hex HMAC-SHA256>" })),
  });
  /** A single event: whether it changed its payment. A batch: what became of its events. */
  export const WebhookResponse = t.Union([
    t.Object({ applied: t.Boolean({ description: "false for a duplicate or a stale event" }) }),
    t.Object({
      applied: Int({ minimum: 0, description: "Events that changed their payment" }),
      known: Int({ minimum: 0, description: "Events their payment already reflected, duplicates included" }),
      ignored: Int({ minimum: 0, description: "Events for no known payment, not fitting it, or malformed" }),
      events: Int({ minimum: 1, maximum: 100 }),
    }),
  ]);
  export type WebhookResponse = typeof WebhookResponse.static;
}
