// Every event that crosses a service boundary, with its payload schema: producers and
// consumers import the same definition, so a field rename fails type-checking on both sides.
import { defineEvent, type EventEnvelope } from "@careforall/bus";
import { type Static, Type } from "@sinclair/typebox";

export const Currency = Type.Union([Type.Literal("BDT"), Type.Literal("USD"), Type.Literal("EUR")]);
export type Currency = Static<typeof Currency>;

export const UserRegistered = defineEvent(
  "user.registered",
  Type.Object({
    userId: Type.String(),
    email: Type.String(),
    name: Type.String(),
    role: Type.Union([Type.Literal("donor"), Type.Literal("admin")]),
  }),
);

/** The public Campaign shape plus a monotonically increasing `version` for ordering snapshots. */
export const CampaignSnapshot = Type.Object({
  id: Type.String(),
  ownerId: Type.String(),
  title: Type.String(),
  description: Type.String(),
  goalMinor: Type.Integer(),
  currency: Currency,
  status: Type.Union([Type.Literal("active"), Type.Literal("closed")]),
  raisedMinor: Type.Integer(),
  donorCount: Type.Integer(),
  pledgeCount: Type.Integer(),
  endsAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  version: Type.Integer(),
});
export type CampaignSnapshot = Static<typeof CampaignSnapshot>;

export const CampaignCreated = defineEvent("campaign.created", CampaignSnapshot);
export const CampaignUpdated = defineEvent("campaign.updated", CampaignSnapshot);
/** A campaign closed, by its owner or an admin, or by the sweeper once its endsAt passed; the closed snapshot. */
export const CampaignClosed = defineEvent("campaign.closed", CampaignSnapshot);
/** Emitted after totals move (money path); carries the full snapshot so caches need no read-back. */
export const CampaignTotalsChanged = defineEvent("campaign.totals_changed", CampaignSnapshot);

export type UserRegisteredEvent = EventEnvelope<Static<typeof UserRegistered.schema>, "user.registered">;
export type CampaignEvent = EventEnvelope<
  CampaignSnapshot,
  "campaign.created" | "campaign.updated" | "campaign.closed" | "campaign.totals_changed"
>;

// ── Money path ────────────────────────────────────────────────────────────────────────────

/** The bank opened an account: for a user (ownerType "user", ownerId = userId), a campaign's receiving account, or a demo account. */
export const BankAccountOpened = defineEvent(
  "bank.account_opened",
  Type.Object({
    accountId: Type.String(),
    ownerType: Type.Union([Type.Literal("user"), Type.Literal("campaign"), Type.Literal("demo"), Type.Literal("test")]),
    ownerId: Type.Union([Type.String(), Type.Null()]),
    currency: Currency,
  }),
);
export type BankAccountOpened = Static<typeof BankAccountOpened.schema>;

export const PledgeStatus = Type.Union([
  Type.Literal("pending"),
  Type.Literal("authorized"),
  Type.Literal("captured"),
  Type.Literal("failed"),
  Type.Literal("cancelled"),
  Type.Literal("expired"),
  Type.Literal("refunded"),
]);
export type PledgeStatus = Static<typeof PledgeStatus>;

/**
 * A new pledge to charge. `source.grant` is the bank's signed, single-purpose permission to
 * draw on the account (issued when the pledge service verified the secret or the owner), so
 * neither the secret nor a raw account credential ever travels on the bus.
 */
export const PledgeCreated = defineEvent(
  "pledge.created",
  Type.Object({
    pledgeId: Type.String(),
    campaignId: Type.String(),
    donorId: Type.Union([Type.String(), Type.Null()]),
    amountMinor: Type.Integer(),
    currency: Currency,
    source: Type.Object({ bankAccountId: Type.String(), grant: Type.String() }),
    createdAt: Type.String(),
  }),
);
export type PledgeCreated = Static<typeof PledgeCreated.schema>;

/** Every pledge state change after creation carries the pledge as it now is. */
export const PledgeChange = Type.Object({
  pledgeId: Type.String(),
  campaignId: Type.String(),
  donorId: Type.Union([Type.String(), Type.Null()]),
  /** Stable per donor: the user id, or "guest:" + sha-256 of the guest's normalised email. Used for distinct-donor counts. */
  donorKey: Type.String(),
  donorName: Type.Union([Type.String(), Type.Null()]),
  anonymous: Type.Boolean(),
  message: Type.Union([Type.String(), Type.Null()]),
  status: PledgeStatus,
  amountMinor: Type.Integer(),
  currency: Currency,
  failureReason: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
});
export type PledgeChange = Static<typeof PledgeChange>;

export const PledgeAuthorized = defineEvent("pledge.authorized", PledgeChange);
export const PledgeCaptured = defineEvent("pledge.captured", PledgeChange);
export const PledgeFailed = defineEvent("pledge.failed", PledgeChange);
export const PledgeCancelled = defineEvent("pledge.cancelled", PledgeChange);
export const PledgeExpired = defineEvent("pledge.expired", PledgeChange);
export const PledgeRefunded = defineEvent("pledge.refunded", PledgeChange);
/** An admin asked for a refund of a captured pledge; payment returns the money, then pledge.refunded follows. */
export const PledgeRefundRequested = defineEvent("pledge.refund_requested", PledgeChange);

export const PaymentChange = Type.Object({
  paymentId: Type.String(),
  pledgeId: Type.String(),
  holdId: Type.Union([Type.String(), Type.Null()]),
  amountMinor: Type.Integer(),
  currency: Currency,
  /** For failures: "declined", "insufficient_funds", "invalid_source", ... */
  reason: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
});
export type PaymentChange = Static<typeof PaymentChange>;

export const PaymentAuthorized = defineEvent("payment.authorized", PaymentChange);
export const PaymentCaptured = defineEvent("payment.captured", PaymentChange);
export const PaymentFailed = defineEvent("payment.failed", PaymentChange);
export const PaymentReleased = defineEvent("payment.released", PaymentChange);
export const PaymentExpired = defineEvent("payment.expired", PaymentChange);
export const PaymentRefunded = defineEvent("payment.refunded", PaymentChange);

export type PledgeChangeType =
  | "pledge.authorized"
  | "pledge.captured"
  | "pledge.failed"
  | "pledge.cancelled"
  | "pledge.expired"
  | "pledge.refunded"
  | "pledge.refund_requested";
export type PaymentChangeType =
  | "payment.authorized"
  | "payment.captured"
  | "payment.failed"
  | "payment.released"
  | "payment.expired"
  | "payment.refunded";
export type PledgeChangeEvent = EventEnvelope<PledgeChange, PledgeChangeType>;
export type PaymentChangeEvent = EventEnvelope<PaymentChange, PaymentChangeType>;
export type PledgeCreatedEvent = EventEnvelope<PledgeCreated, "pledge.created">;
export type BankAccountOpenedEvent = EventEnvelope<BankAccountOpened, "bank.account_opened">;

// ── Operations ────────────────────────────────────────────────────────────────────────────

/**
 * A money audit finished (the gateway's background audit; see its domain/audit.ts). Published
 * straight to the bus, not through an outbox: the next audit says the same again, so a lost one
 * costs one interval. The notification service raises `audit.drift` when drift persists across two.
 */
export const AuditCompleted = defineEvent(
  "audit.completed",
  Type.Object({
    checkedAt: Type.String(),
    totalDriftMinor: Type.Integer(),
    /** Campaigns whose drift is not 0 (all others agree). */
    drifting: Type.Array(Type.Object({ campaignId: Type.String(), driftMinor: Type.Integer() })),
    stuckPledges: Type.Integer(),
  }),
);
export type AuditCompleted = Static<typeof AuditCompleted.schema>;

/**
 * Webhook calls with a bad or missing signature crossed the payment service's alarm threshold
 * within its window (one event per window that crosses it, however many more follow).
 */
export const WebhookSignatureFailures = defineEvent(
  "payment.webhook_signature_failures",
  Type.Object({
    failures: Type.Integer(),
    windowSeconds: Type.Integer(),
    firstAt: Type.String(),
    lastAt: Type.String(),
  }),
);
export type WebhookSignatureFailures = Static<typeof WebhookSignatureFailures.schema>;
