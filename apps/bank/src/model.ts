// Bank HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types (payment and gateway call the bank through them) and the
// OpenAPI document.
import { Int, ListQuery, Page, Problem } from "@careforall/http";
import { type TSchema, t } from "elysia";

const Currency = t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")], { description: "ISO-4217 code" });
const AccountId = t.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_-]+$", description: "acct_…" });
const IdempotencyKey = t.String({ minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" });
const HoldId = t.String({ format: "uuid" });
const Amount = (description: string) => Int({ minimum: 1, maximum: 1_000_000_000_000, description });
const DateTime = t.String({ format: "date-time" });
const OwnerType = t.Union([
  t.Literal("user"),
  t.Literal("campaign"),
  t.Literal("demo"),
  t.Literal("test"),
  t.Literal("system"),
]);
const HoldStatus = t.Union([t.Literal("held"), t.Literal("captured"), t.Literal("released"), t.Literal("expired")]);
const Rate = t.Number({ minimum: 0, maximum: 1 });
/** Most items one batch call carries (and the most webhook events one batch POST carries). */
export const BATCH_MAX_ITEMS = 100;
const BatchOf = <T extends TSchema>(item: T, description: string) =>
  t.Object({ items: t.Array(item, { minItems: 1, maxItems: BATCH_MAX_ITEMS, description }) });
/** One item's answer in a batch: what the single call with the same body would have answered. */
const BatchItem = <T extends TSchema>(body: T) =>
  t.Union([
    t.Object({
      ok: t.Literal(true),
      status: t.Literal(200),
      body,
      replayed: t.Boolean({ description: "A stored earlier answer (same key and body)" }),
    }),
    t.Object({ ok: t.Literal(false), status: Int({ minimum: 400, maximum: 599 }), problem: Problem }),
  ]);
const BatchResults = <T extends TSchema>(item: T) =>
  t.Object({ results: t.Array(item, { description: "One per item, in item order" }) });

export namespace BankModel {
  export const OpenAccountBody = t.Object(
    {
      currency: t.Optional(
        t.UnionEnum(["BDT", "USD", "EUR"], { description: "The account's currency; BDT by default" }),
      ),
    },
    { description: "A demo account holding the demo balance in its currency" },
  );
  export type OpenAccountBody = typeof OpenAccountBody.static;

  export const OpenedAccount = t.Object({
    bankAccountId: t.String(),
    accountSecret: t.String({ description: "Shown once; needed to pay from this account" }),
    balanceMinor: Int(),
    currency: Currency,
  });
  export type OpenedAccount = typeof OpenedAccount.static;

  export const CheckBalanceBody = t.Object({ accountId: AccountId });
  export type CheckBalanceBody = typeof CheckBalanceBody.static;

  export const Balance = t.Object({
    bankAccountId: t.String(),
    balanceMinor: Int(),
    heldMinor: Int(),
    availableMinor: Int(),
    currency: Currency,
  });
  export type Balance = typeof Balance.static;

  export const OwnerParams = t.Object({
    ownerType: OwnerType,
    ownerId: t.String({ minLength: 1, maxLength: 200 }),
  });
  export type OwnerParams = typeof OwnerParams.static;

  export const AccountParams = t.Object({ id: AccountId });

  export const GrantBody = t.Object({
    accountId: AccountId,
    accountSecret: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    ownerUserId: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
  });
  export type GrantBody = typeof GrantBody.static;

  export const Grant = t.Object({
    grant: t.String(),
    expiresAt: DateTime,
    currency: t.Optional(Currency),
  });
  export type Grant = typeof Grant.static;

  export const AuthorizeBody = t.Object({
    idempotencyKey: IdempotencyKey,
    accountId: AccountId,
    grant: t.String({ minLength: 1, maxLength: 400 }),
    amountMinor: Amount("Amount to hold"),
    currency: Currency,
    campaignId: t.String({ minLength: 1, maxLength: 200 }),
    paymentRef: t.String({ minLength: 1, maxLength: 200, description: "The payment id; echoed in webhooks" }),
  });
  export type AuthorizeBody = typeof AuthorizeBody.static;

  export const FailureReason = t.Union([
    t.Literal("declined"),
    t.Literal("insufficient_funds"),
    t.Literal("invalid_grant"),
    t.Literal("currency_mismatch"),
    t.Literal("unknown_campaign"),
  ]);
  export type FailureReason = typeof FailureReason.static;

  export const AuthorizeResult = t.Object({
    holdId: t.Union([t.String(), t.Null()]),
    status: t.Union([t.Literal("held"), t.Literal("failed")]),
    reason: t.Union([FailureReason, t.Null()]),
    amountMinor: Int(),
    currency: Currency,
    expiresAt: t.Union([DateTime, t.Null()]),
  });
  export type AuthorizeResult = typeof AuthorizeResult.static;

  export const KeyParams = t.Object({ key: IdempotencyKey });
  export const HoldParams = t.Object({ id: HoldId });

  export const Hold = t.Object({
    id: t.String(),
    accountId: t.String(),
    campaignId: t.String(),
    amountMinor: Int(),
    currency: Currency,
    status: HoldStatus,
    capturedMinor: Int(),
    refundedMinor: Int(),
    paymentRef: t.String(),
    expiresAt: DateTime,
    createdAt: DateTime,
    updatedAt: DateTime,
  });
  export type Hold = typeof Hold.static;

  export const AuthorizeBatchBody = BatchOf(AuthorizeBody, "Each item exactly as POST /bank/authorize takes it");
  export type AuthorizeBatchBody = typeof AuthorizeBatchBody.static;

  export const AuthorizeBatchItem = BatchItem(AuthorizeResult);
  export type AuthorizeBatchItem = typeof AuthorizeBatchItem.static;

  export const AuthorizeBatchResult = BatchResults(AuthorizeBatchItem);
  export type AuthorizeBatchResult = typeof AuthorizeBatchResult.static;

  export const CaptureBody = t.Object({
    idempotencyKey: IdempotencyKey,
    holdId: HoldId,
    amountMinor: t.Optional(Amount("Omit to capture the whole hold; less releases the rest")),
  });
  export type CaptureBody = typeof CaptureBody.static;

  export const CaptureResult = t.Object({
    holdId: t.String(),
    transferId: t.String(),
    capturedMinor: Int(),
    status: t.Literal("captured"),
  });
  export type CaptureResult = typeof CaptureResult.static;

  export const CaptureBatchBody = BatchOf(CaptureBody, "Each item exactly as POST /bank/capture takes it");
  export type CaptureBatchBody = typeof CaptureBatchBody.static;

  export const CaptureBatchItem = BatchItem(CaptureResult);
  export type CaptureBatchItem = typeof CaptureBatchItem.static;

  export const CaptureBatchResult = BatchResults(CaptureBatchItem);
  export type CaptureBatchResult = typeof CaptureBatchResult.static;

  export const ReleaseBody = t.Object({ idempotencyKey: IdempotencyKey, holdId: HoldId });
  export type ReleaseBody = typeof ReleaseBody.static;

  export const ReleaseResult = t.Object({ holdId: t.String(), status: t.Literal("released") });
  export type ReleaseResult = typeof ReleaseResult.static;

  export const RefundBody = t.Object({
    idempotencyKey: IdempotencyKey,
    holdId: HoldId,
    amountMinor: t.Optional(Amount("Omit to refund everything not yet refunded")),
  });
  export type RefundBody = typeof RefundBody.static;

  export const RefundResult = t.Object({
    holdId: t.String(),
    transferId: t.String(),
    refundedMinor: Int({ description: "Total refunded on this hold so far" }),
  });
  export type RefundResult = typeof RefundResult.static;

  export const TransactionsQuery = t.Object({ ...ListQuery });
  export type TransactionsQuery = typeof TransactionsQuery.static;

  export const Transaction = t.Object({
    entryId: t.String(),
    transferId: t.String(),
    kind: t.Union([t.Literal("funding"), t.Literal("capture"), t.Literal("refund")]),
    amountMinor: Int({ description: "Signed: debit negative, credit positive" }),
    balanceAfterMinor: Int(),
    holdId: t.Union([t.String(), t.Null()]),
    at: DateTime,
  });
  export type Transaction = typeof Transaction.static;

  export const TransactionPage = Page(Transaction);
  export type TransactionPage = typeof TransactionPage.static;

  export const Faults = t.Object({
    errorRate: Rate,
    lostResponseRate: Rate,
    latencyMs: Int({ minimum: 0, maximum: 60_000 }),
    webhookDuplicateRate: Rate,
    webhookReorder: t.Boolean(),
    webhookDropRate: Rate,
  });
  export type Faults = typeof Faults.static;

  export const FaultsPatch = t.Partial(Faults, { description: "Fields left out keep their value" });
  export type FaultsPatch = typeof FaultsPatch.static;
}
