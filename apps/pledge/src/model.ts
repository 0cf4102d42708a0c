// Pledge HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types (the gateway calls pledge through them) and the OpenAPI document.
import { Int, ListQuery, Page } from "@careforall/http";
import { t } from "elysia";

const Currency = t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")], { description: "ISO-4217 code" });
const Status = t.Union(
  [
    t.Literal("pending"),
    t.Literal("authorized"),
    t.Literal("captured"),
    t.Literal("failed"),
    t.Literal("cancelled"),
    t.Literal("expired"),
    t.Literal("refunded"),
  ],
  { "x-name": "status" },
);
const DateTime = t.String({ format: "date-time" });
/** The bank's account id alphabet; anything else could never be a bank account. */
const BankAccountId = t.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_-]+$", description: "acct_…" });

export namespace PledgeModel {
  export const CreatePledgeBody = t.Object({
    amountMinor: Int({ minimum: 100, maximum: 100_000_000, description: "Minor units" }),
    currency: Currency,
    anonymous: t.Optional(t.Boolean({ description: "Hide the donor's name on the campaign page" })),
    message: t.Optional(t.String({ minLength: 0, maxLength: 280 })),
    source: t.Optional(
      t.Object(
        {
          bankAccountId: BankAccountId,
          accountSecret: t.String({ minLength: 1, maxLength: 200, description: "Like a card's security code" }),
        },
        { description: "Pay from this account (required for guests; a signed-in donor defaults to their own)" },
      ),
    ),
    donor: t.Optional(
      t.Object(
        {
          email: t.String({ format: "email", maxLength: 254, description: "Scopes the guest's Idempotency-Keys" }),
          name: t.String({ minLength: 1, maxLength: 80 }),
        },
        { description: "Required for guests; ignored for signed-in donors" },
      ),
    ),
  });
  export type CreatePledgeBody = typeof CreatePledgeBody.static;

  /** Printable ASCII (what an HTTP header can carry), 1..255 characters. */
  export const IdempotencyKey = t.String({
    minLength: 1,
    maxLength: 255,
    pattern: "^[\\x20-\\x7e]+$",
    description: "Client-chosen key; retries with the same key and body replay the first answer",
  });

  /** Optional Bearer token: declared so Eden callers may pass it (the auth macros read it). */
  const Authorization = t.Optional(t.String({ description: "Bearer <accessToken>" }));

  // additionalProperties: Elysia strips undeclared headers from a route that declares a headers
  // schema, and the auth macros read `authorization` from the same object.
  export const CreatePledgeHeaders = t.Object(
    {
      authorization: Authorization,
      "idempotency-key": IdempotencyKey,
      "x-donor-bank-account": t.Optional(BankAccountId),
      // Percent-encoded UTF-8 (encodeURIComponent): up to 12 characters for one of an 80-character name.
      "x-donor-name": t.Optional(t.String({ minLength: 1, maxLength: 1_000 })),
    },
    { additionalProperties: true },
  );
  export type CreatePledgeHeaders = typeof CreatePledgeHeaders.static;

  export const ReadPledgeHeaders = t.Object(
    { authorization: Authorization, "x-receipt-token": t.Optional(t.String({ minLength: 1, maxLength: 256 })) },
    { additionalProperties: true },
  );

  export const HistoryEntry = t.Object({ status: Status, at: DateTime });
  export type HistoryEntry = typeof HistoryEntry.static;

  export const Pledge = t.Object({
    id: t.String({ format: "uuid" }),
    campaignId: t.String({ format: "uuid" }),
    donorId: t.Union([t.String({ format: "uuid" }), t.Null()], { description: "null for guests" }),
    amountMinor: Int(),
    currency: Currency,
    status: Status,
    anonymous: t.Boolean(),
    message: t.Union([t.String(), t.Null()]),
    failureReason: t.Union([t.String(), t.Null()]),
    createdAt: DateTime,
    updatedAt: DateTime,
    history: t.Array(HistoryEntry),
  });
  export type Pledge = typeof Pledge.static;

  /** The 202 answer to a create: a guest also gets `receiptToken`, shown once. */
  export const CreatedPledge = t.Object({
    ...Pledge.properties,
    receiptToken: t.Optional(t.String({ description: "Guests only: send as X-Receipt-Token to read this pledge" })),
  });
  export type CreatedPledge = typeof CreatedPledge.static;

  export const PledgePage = Page(Pledge);
  export type PledgePage = typeof PledgePage.static;

  export const MyPledgesQuery = t.Object({ ...ListQuery });
  export type MyPledgesQuery = typeof MyPledgesQuery.static;

  export const AdminListQuery = t.Object({ status: t.Optional(Status), ...ListQuery });
  export type AdminListQuery = typeof AdminListQuery.static;

  export const LedgerEntry = t.Object({
    campaignId: t.String({ format: "uuid" }),
    capturedMinusRefundedMinor: Int({ description: "Sum of pledges now captured (refunded ones net to zero)" }),
    capturedCount: Int({ description: "Pledges now captured" }),
  });
  export const Ledger = t.Object({
    campaigns: t.Array(LedgerEntry),
    stuckPledges: Int({ description: "Pledges still pending or authorized after STUCK_AFTER_SECONDS" }),
    checkedAt: DateTime,
  });
  export type Ledger = typeof Ledger.static;

  /** A captured pledge as the campaign service needs it to rebuild totals and its donations list. */
  export const CapturedPledge = t.Object({
    pledgeId: t.String({ format: "uuid" }),
    campaignId: t.String({ format: "uuid" }),
    donorKey: t.String(),
    donorName: t.Union([t.String(), t.Null()], { description: "As given; hide it when anonymous" }),
    anonymous: t.Boolean(),
    message: t.Union([t.String(), t.Null()]),
    amountMinor: Int(),
    currency: Currency,
    capturedAt: DateTime,
  });
  export type CapturedPledge = typeof CapturedPledge.static;
  export const CapturedPage = Page(CapturedPledge);
  export type CapturedPage = typeof CapturedPage.static;
}
