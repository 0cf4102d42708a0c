// Payment use cases, free of HTTP, as rocket-rides-atomic phases: every state change and its
// outbox event commit in one short transaction (invariant 5), and every bank call happens
// between transactions, never inside one. Whatever happens in between (timeout, lost response,
// SIGKILL) leaves a recovery point the reconciler resumes from (invariant 2); idempotency keys
// derived from the payment id make every retry the same bank operation (invariant 1).
// The reads and the one way a payment changes live here; the steps built on them have their own
// modules: bank-drive.ts, pledge-events.ts, webhooks.ts, reconcile.ts and operator.ts.
import type { Clock } from "@careforall/config";
import type { Database, Tx } from "@careforall/db";
import { isUuid, notFound } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { recordInbox } from "@careforall/outbox";
import { eq, sql } from "drizzle-orm";
import type { BankClient } from "./bank-client";
import { createBankDrive } from "./bank-drive";
import { backoffList, type PaymentConfig } from "./config";
import { inbox, type PaymentDbSchema, type PaymentRow, payments } from "./db/schema";
import { type Decision, emittedEvents, type PaymentEvent, type PaymentState, retryDelay, transition } from "./domain";
import { noopPaymentMetrics, type PaymentMetrics } from "./metrics";
import type { PaymentModel } from "./model";
import { createOperatorActions } from "./operator";
import { writeDecisions } from "./payment-store";
import { createPledgeEventHandlers } from "./pledge-events";
import { createReconcile } from "./reconcile";
import { createSignatureAlarm, SIGNATURE_ALARM_DEFAULTS } from "./signature-alarm";
import { createWebhookHandler } from "./webhooks";

export type PaymentDb = Database<PaymentDbSchema>;
export type PaymentTx = Tx<PaymentDbSchema>;

/** `(secret, header, rawBody, nowSeconds, toleranceSeconds) → boolean`, constant-time (the bank's own). */
export type WebhookVerifier = (
  secret: string,
  header: string | null | undefined,
  rawBody: string,
  nowSeconds: number,
  toleranceSeconds?: number,
) => boolean;

export { describeOutcome } from "./bank-drive";
export { holdEvent } from "./domain";

import { CONSUMERS } from "./consumers";

export { CONSUMERS };
export { WEBHOOK_TOLERANCE_SECONDS } from "./webhooks";

export interface PaymentServiceDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  config: Pick<PaymentConfig, "WEBHOOK_SECRET" | "RETRY_BACKOFF_MS"> &
    Partial<Pick<PaymentConfig, "WEBHOOK_SIGNATURE_ALARM_THRESHOLD" | "WEBHOOK_SIGNATURE_ALARM_WINDOW_SECONDS">>;
  log: Logger;
  verifyWebhookSignature: WebhookVerifier;
  metrics?: PaymentMetrics | undefined;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
}

/** What applying one event did. */
export type ApplyResult =
  | { outcome: "applied"; payment: PaymentRow; decision: Extract<Decision, { ok: true }> }
  | { outcome: "stale" | "not_allowed"; payment: PaymentRow; detail: string }
  | { outcome: "duplicate" | "missing" };

/** A pledge request that found no payment yet: a cancel is remembered for the payment to come. */
export type PledgeRequestResult = ApplyResult | { outcome: "remembered" };

/** Reads one payment; undefined when there is none (or the id is not a uuid). */
export type LoadPayment = (id: string) => Promise<PaymentRow | undefined>;

/** Applies one machine event to one payment in its own transaction (`apply` below). */
export type ApplyEvent = (
  target: { id: string } | { pledgeId: string },
  event: PaymentEvent,
  cause: string,
  dedupe?: { consumer: string; eventId: string },
) => Promise<ApplyResult>;

/** Leaves a payment where it is after an unknown bank outcome, to be retried after a backoff. */
export type DeferAfterUnknown = (row: PaymentRow, operation: string, error: string) => Promise<void>;

export const stateOf = (row: PaymentRow): PaymentState => ({
  status: row.status,
  holdId: row.holdId,
  captureTransferId: row.captureTransferId,
  refundTransferId: row.refundTransferId,
  failureReason: row.failureReason,
  cancelRequested: row.cancelRequested,
  refundRequested: row.refundRequested,
});

/** The public Payment: everything but the grant. */
export function toPayment(row: PaymentRow): PaymentModel.Payment {
  return {
    id: row.id,
    pledgeId: row.pledgeId,
    campaignId: row.campaignId,
    amountMinor: row.amountMinor,
    currency: row.currency,
    sourceAccountId: row.sourceAccountId,
    status: row.status,
    holdId: row.holdId,
    captureTransferId: row.captureTransferId,
    refundTransferId: row.refundTransferId,
    failureReason: row.failureReason,
    cancelRequested: row.cancelRequested,
    refundRequested: row.refundRequested,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    version: row.version,
  };
}

export function createPaymentService(deps: PaymentServiceDeps) {
  const { db, bank, clock, config, log, onCommitted } = deps;
  const metrics = deps.metrics ?? noopPaymentMetrics;
  const backoff = backoffList(config.RETRY_BACKOFF_MS);

  // ── Reads ────────────────────────────────────────────────────────────────────────────────

  async function load(id: string): Promise<PaymentRow | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await db.select().from(payments).where(eq(payments.id, id)).limit(1);
    return row;
  }

  async function get(id: string): Promise<PaymentModel.Payment> {
    const row = await load(id);
    if (!row) throw notFound(`Payment ${id} does not exist`);
    return toPayment(row);
  }

  async function getByPledge(pledgeId: string): Promise<PaymentModel.Payment> {
    const [row] = await db.select().from(payments).where(eq(payments.pledgeId, pledgeId)).limit(1);
    if (!row) throw notFound(`No payment for pledge ${pledgeId}`);
    return toPayment(row);
  }

  // ── The one way a payment changes ─────────────────────────────────────────────────────────

  /**
   * Applies one machine event in one transaction: lock the row, (dedupe by inbox), decide with
   * the pure machine, conditional UPDATE on the version read, history rows, outbox events.
   */
  async function apply(
    target: { id: string } | { pledgeId: string },
    event: PaymentEvent,
    cause: string,
    dedupe?: { consumer: string; eventId: string },
  ): Promise<ApplyResult> {
    const where = "id" in target ? eq(payments.id, target.id) : eq(payments.pledgeId, target.pledgeId);
    const result = await db.transaction(async (tx): Promise<ApplyResult> => {
      // The row lock serialises appliers of one payment (workers, webhooks, reconciler, operators).
      const [row] = await tx.select().from(payments).where(where).for("update");
      if (!row) return { outcome: "missing" };
      // Same transaction as the effect: under concurrency the inbox primary key decides.
      if (dedupe && !(await recordInbox(tx, inbox, dedupe.consumer, dedupe.eventId))) return { outcome: "duplicate" };
      const decision = transition(stateOf(row), event);
      if (!decision.ok) return { outcome: decision.reason, payment: row, detail: decision.detail };
      const updated = await write(tx, row, decision, cause);
      return { outcome: "applied", payment: updated, decision };
    });
    if (result.outcome === "applied") {
      log.info(
        { paymentId: result.payment.id, event: event.type, status: result.payment.status, cause },
        "payment.transition",
      );
      if (emittedEvents(result.decision.effects).length > 0) onCommitted?.();
    }
    return result;
  }

  async function write(
    tx: PaymentTx,
    row: PaymentRow,
    decision: Extract<Decision, { ok: true }>,
    cause: string,
  ): Promise<PaymentRow> {
    const { written } = await writeDecisions(tx, [{ row, decision, cause }], clock);
    // Under the row lock the version cannot move; if it did, refuse rather than double-apply.
    if (!written[0]) throw new Error(`payment ${row.id} changed concurrently`);
    return written[0];
  }

  /** An unknown outcome: the payment stays where it is and is retried (by the reconciler) after a backoff. */
  async function deferAfterUnknown(row: PaymentRow, operation: string, error: string): Promise<void> {
    metrics.bankUnknownOutcomes.inc({ operation });
    const attempts = row.attempts + 1;
    const next = new Date(clock.now() + retryDelay(attempts, backoff));
    // No version bump: this changes no state, only when to look again.
    await db
      .update(payments)
      .set({ attempts: sql`${payments.attempts} + 1`, nextAttemptAt: next, lastError: error.slice(0, 500) })
      .where(eq(payments.id, row.id));
    log.warn({ paymentId: row.id, operation, error, attempts, retryAt: next.toISOString() }, "payment.bank_unknown");
  }

  // ── Bank steps (bank-drive.ts) ────────────────────────────────────────────────────────────

  const { drive, driveLater, idle } = createBankDrive({ bank, log, load, apply, deferAfterUnknown });

  // ── Consumers (pledge-events.ts) ──────────────────────────────────────────────────────────

  const pledgeEvents = createPledgeEventHandlers({ db, clock, log, load, apply, drive });

  // ── Webhooks (webhooks.ts) ────────────────────────────────────────────────────────────────

  const handleWebhook = createWebhookHandler({
    db,
    bank,
    clock,
    config,
    log,
    metrics,
    verifyWebhookSignature: deps.verifyWebhookSignature,
    onSignatureRejected: createSignatureAlarm({
      db,
      clock,
      log,
      threshold: config.WEBHOOK_SIGNATURE_ALARM_THRESHOLD ?? SIGNATURE_ALARM_DEFAULTS.threshold,
      windowSeconds: config.WEBHOOK_SIGNATURE_ALARM_WINDOW_SECONDS ?? SIGNATURE_ALARM_DEFAULTS.windowSeconds,
      onCommitted,
    }),
    inboxConsumer: CONSUMERS.webhook,
    load,
    apply,
    driveLater,
  });

  // ── Reconciler step (reconcile.ts) ────────────────────────────────────────────────────────

  const reconcile = createReconcile({ bank, metrics, load, apply, deferAfterUnknown, drive });

  // ── Operator API (operator.ts: the same steps the workers take) ───────────────────────────

  const operator = createOperatorActions({ load, apply, drive });

  return {
    get,
    getByPledge,
    load,
    apply,
    drive,
    deferAfterUnknown,
    reconcile,
    handlePledgeCreated: pledgeEvents.handlePledgeCreated,
    handlePledgeCancelled: pledgeEvents.handlePledgeCancelled,
    handlePledgeRefundRequested: pledgeEvents.handlePledgeRefundRequested,
    handleWebhook,
    operatorAuthorize: operator.operatorAuthorize,
    operatorCapture: operator.operatorCapture,
    operatorRelease: operator.operatorRelease,
    /** Waits for background drives (tests, shutdown). */
    idle,
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;
