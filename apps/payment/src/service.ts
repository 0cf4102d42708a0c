// Payment use cases, free of HTTP, as rocket-rides-atomic phases: every state change and its
// outbox event commit in one short transaction (invariant 5), and every bank call happens
// between transactions, never inside one. Whatever happens in between (timeout, lost response,
// SIGKILL) leaves a recovery point the reconciler resumes from (invariant 2); idempotency keys
// derived from the payment id make every retry the same bank operation (invariant 1).
import type { EventEnvelope } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import type { Database, Tx } from "@careforall/db";
import { PledgeChange, PledgeCreated } from "@careforall/events";
import { conflict, isUuid, notFound } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { recordInbox } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { and, eq, sql } from "drizzle-orm";
import type { AuthorizeRequest, BankClient, BankOutcome, Hold } from "./bank-client";
import { backoffList, type PaymentConfig } from "./config";
import { inbox, type PaymentDbSchema, type PaymentRow, paymentHistory, payments } from "./db/schema";
import {
  type BankAction,
  type Decision,
  emittedEvents,
  followUp,
  nextAction,
  type PaymentEvent,
  type PaymentState,
  retryDelay,
  transition,
} from "./domain";
import { noopPaymentMetrics, type PaymentMetrics } from "./metrics";
import type { PaymentModel } from "./model";
import { newPaymentRow, writeDecisions } from "./payment-store";
import { createWebhookHandler } from "./webhooks";

export type PaymentDb = Database<PaymentDbSchema>;
type PaymentTx = Tx<PaymentDbSchema>;

/** `(secret, header, rawBody, nowSeconds, toleranceSeconds) → boolean`, constant-time (the bank's own). */
export type WebhookVerifier = (
  secret: string,
  header: string | null | undefined,
  rawBody: string,
  nowSeconds: number,
  toleranceSeconds?: number,
) => boolean;

export { WEBHOOK_TOLERANCE_SECONDS } from "./webhooks";

/** Inbox consumer names: one per event source, so ids from different sources never collide. */
export const CONSUMERS = {
  pledgeCreated: "payment-pledge-created",
  pledgeCancelled: "payment-pledge-cancelled",
  pledgeRefundRequested: "payment-pledge-refund-requested",
  webhook: "bank-webhook",
  /**
   * Not an event source: the inbox row (keyed by the pledge id) that remembers a pledge.cancelled
   * which arrived before its pledge.created, so the payment starts already cancelled.
   */
  cancelledBeforeCreated: "payment-cancelled-before-created",
} as const;

export interface PaymentServiceDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  config: Pick<PaymentConfig, "WEBHOOK_SECRET" | "RETRY_BACKOFF_MS">;
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

/**
 * Serialises, per pledge, the creation of its payment with a cancel that finds none yet: one of
 * them commits first and the other sees it (the payment row, or the remembered cancel). Raw SQL:
 * drizzle has no builder for advisory locks.
 */
async function lockPledgeId(tx: PaymentTx, pledgeId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`payment:pledge:${pledgeId}`}, 0))`);
}

/** Bank steps one drive may take (authorize, capture, refund and their bookkeeping fit easily). */
const MAX_DRIVE_STEPS = 8;

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

/** The machine event a bank hold's current status stands for. */
export function holdEvent(hold: Hold): PaymentEvent {
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

export function createPaymentService(deps: PaymentServiceDeps) {
  const { db, bank, clock, config, log, onCommitted } = deps;
  const metrics = deps.metrics ?? noopPaymentMetrics;
  const backoff = backoffList(config.RETRY_BACKOFF_MS);
  /** Drives started in the background (after a webhook or a cancel), so tests and shutdown can wait for them. */
  const background = new Set<Promise<unknown>>();

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

  // ── Bank steps ────────────────────────────────────────────────────────────────────────────

  const authorizeRequest = (row: PaymentRow): AuthorizeRequest => ({
    // The same key and the same body on every retry: the bank answers with what it already did.
    idempotencyKey: row.id,
    accountId: row.sourceAccountId,
    grant: row.sourceGrant,
    amountMinor: row.amountMinor,
    currency: row.currency,
    campaignId: row.campaignId,
    paymentRef: row.id,
  });

  type Step = { continue: true; row: PaymentRow } | { continue: false };
  const stop: Step = { continue: false };
  const next = (result: ApplyResult): Step =>
    result.outcome === "applied" ? { continue: true, row: result.payment } : stop;

  /** Converges with what the bank says about the hold, after a definite refusal of capture/release/refund. */
  async function convergeWithHold(row: PaymentRow, operation: string, cause: string): Promise<Step> {
    if (!row.holdId) return stop;
    const answer = await bank.hold(row.holdId);
    if (answer.kind !== "ok") {
      await deferAfterUnknown(row, "hold", describeOutcome(answer));
      return stop;
    }
    const result = await apply({ id: row.id }, holdEvent(answer.value), cause);
    if (result.outcome !== "applied") {
      // The bank refused the call, yet the hold agrees with us: try again later.
      await deferAfterUnknown(row, operation, `refused while hold is ${answer.value.status}`);
    }
    return next(result);
  }

  async function outcomeOf<T>(
    row: PaymentRow,
    operation: BankAction,
    answer: BankOutcome<T>,
    cause: string,
    onOk: (value: T) => Promise<Step>,
  ): Promise<Step> {
    if (answer.kind === "ok") return onOk(answer.value);
    if (answer.kind === "unknown") {
      await deferAfterUnknown(row, operation, answer.error);
      return stop;
    }
    log.warn({ paymentId: row.id, operation, status: answer.status, problem: answer.problem }, "payment.bank_refused");
    return convergeWithHold(row, operation, cause);
  }

  async function runAction(row: PaymentRow, action: BankAction, cause: string): Promise<Step> {
    switch (action) {
      case "authorize": {
        const answer = await bank.authorize(authorizeRequest(row));
        if (answer.kind === "unknown" || (answer.kind === "rejected" && answer.status === 409)) {
          await deferAfterUnknown(row, "authorize", describeOutcome(answer));
          return stop;
        }
        if (answer.kind === "rejected") {
          const reason = answer.status === 402 ? "invalid_source" : "bank_rejected";
          return next(
            await apply({ id: row.id }, { type: "authorize_failed", reason }, `bank:authorize:${answer.status}`),
          );
        }
        const result = answer.value;
        if (result.status === "failed")
          return next(
            await apply(
              { id: row.id },
              { type: "authorize_failed", reason: result.reason ?? "declined" },
              "bank:authorize",
            ),
          );
        if (!result.holdId) {
          await deferAfterUnknown(row, "authorize", "held without a hold id");
          return stop;
        }
        return next(await apply({ id: row.id }, { type: "authorized", holdId: result.holdId }, "bank:authorize"));
      }
      case "capture": {
        let current = row;
        if (current.status === "authorized") {
          const started = await apply({ id: row.id }, { type: "capture_started" }, cause);
          if (started.outcome !== "applied") return stop;
          current = started.payment;
        }
        const holdId = current.holdId;
        if (!holdId) return stop;
        const answer = await bank.capture({ idempotencyKey: `${current.id}:capture`, holdId });
        return outcomeOf(current, "capture", answer, "bank:capture", async (value) =>
          next(
            await apply({ id: current.id }, { type: "captured", holdId, transferId: value.transferId }, "bank:capture"),
          ),
        );
      }
      case "release": {
        const holdId = row.holdId;
        if (!holdId) return stop;
        const answer = await bank.release({ idempotencyKey: `${row.id}:release`, holdId });
        return outcomeOf(row, "release", answer, "bank:release", async () =>
          next(await apply({ id: row.id }, { type: "released" }, "bank:release")),
        );
      }
      case "refund": {
        let current = row;
        if (current.status === "captured") {
          const started = await apply({ id: row.id }, { type: "refund_started" }, cause);
          if (started.outcome !== "applied") return stop;
          current = started.payment;
        }
        const holdId = current.holdId;
        if (!holdId) return stop;
        const answer = await bank.refund({ idempotencyKey: `${current.id}:refund`, holdId });
        return outcomeOf(current, "refund", answer, "bank:refund", async (value) =>
          next(await apply({ id: current.id }, { type: "refunded", transferId: value.transferId }, "bank:refund")),
        );
      }
    }
  }

  /**
   * Runs the bank calls a payment needs until it waits on nothing, an outcome is unknown, or
   * another worker moved it first (that worker carries on). Each call is its own phase.
   */
  async function drive(id: string, cause: string): Promise<PaymentRow | undefined> {
    let row = await load(id);
    for (let i = 0; i < MAX_DRIVE_STEPS && row; i++) {
      const action = nextAction(row);
      if (!action) return row;
      const step = await runAction(row, action, cause);
      if (!step.continue) return load(id);
      row = step.row;
    }
    return row;
  }

  /** Fire-and-forget drive (after a webhook or a cancel); failures are left to the reconciler. */
  function driveLater(id: string, cause: string): void {
    const running: Promise<unknown> = drive(id, cause)
      .catch((err) => log.error({ err, paymentId: id, cause }, "payment.drive_failed"))
      .finally(() => background.delete(running));
    background.add(running);
  }

  // ── Consumers ─────────────────────────────────────────────────────────────────────────────

  /** pledge.created → one payment per pledge (the unique pledge_id decides), then authorize and capture. */
  async function handlePledgeCreated(event: EventEnvelope): Promise<PaymentRow | undefined> {
    const data = event.data;
    if (!Value.Check(PledgeCreated.schema, data) || !isUuid(data.pledgeId) || !isUuid(data.campaignId)) {
      // Redelivery cannot fix a malformed event: log it and acknowledge.
      log.error({ eventId: event.id, type: event.type }, "payment.malformed_pledge_created");
      return undefined;
    }
    const now = clock.date();
    const created = await db.transaction(async (tx) => {
      await lockPledgeId(tx, data.pledgeId);
      if (!(await recordInbox(tx, inbox, CONSUMERS.pledgeCreated, event.id))) return undefined;
      // A cancel that overtook this event (its retries may be long over): start cancelled, so the
      // authorize, if granted, is released and never captured (invariant 1).
      const [cancelledBefore] = await tx
        .select({ eventId: inbox.eventId })
        .from(inbox)
        .where(and(eq(inbox.consumer, CONSUMERS.cancelledBeforeCreated), eq(inbox.eventId, data.pledgeId)));
      const [row] = await tx
        .insert(payments)
        .values(newPaymentRow(data, cancelledBefore !== undefined, now))
        .onConflictDoNothing({ target: payments.pledgeId })
        .returning();
      if (row)
        await tx.insert(paymentHistory).values({
          paymentId: row.id,
          status: "authorizing",
          at: now,
          cause: `pledge.created:${event.id}${cancelledBefore ? " (cancelled before)" : ""}`,
        });
      return row;
    });
    if (!created) return undefined;
    log.info({ paymentId: created.id, pledgeId: created.pledgeId }, "payment.created");
    try {
      return await drive(created.id, "pledge.created");
    } catch (err) {
      // The payment is committed; redelivering the event would not resume it, the reconciler will.
      log.error({ err, paymentId: created.id }, "payment.drive_failed");
      return load(created.id);
    }
  }

  /**
   * A cancel that overtook its pledge.created (separate consumers; that event may be stranded with
   * a killed process for the bus's whole ack wait): remembered, in one transaction with its inbox
   * record, for handlePledgeCreated to find. False when the payment appeared meanwhile.
   */
  async function rememberCancel(pledgeId: string, eventId: string): Promise<boolean> {
    return db.transaction(async (tx) => {
      await lockPledgeId(tx, pledgeId);
      const [existing] = await tx.select({ id: payments.id }).from(payments).where(eq(payments.pledgeId, pledgeId));
      if (existing) return false;
      await recordInbox(tx, inbox, CONSUMERS.cancelledBeforeCreated, pledgeId);
      await recordInbox(tx, inbox, CONSUMERS.pledgeCancelled, eventId);
      return true;
    });
  }

  async function handlePledgeRequest(
    event: EventEnvelope,
    machineEvent: PaymentEvent,
    consumer: string,
  ): Promise<PledgeRequestResult | undefined> {
    if (!Value.Check(PledgeChange, event.data) || !isUuid(event.data.pledgeId)) {
      log.error({ eventId: event.id, type: event.type }, "payment.malformed_pledge_event");
      return undefined;
    }
    const { pledgeId } = event.data;
    const applyIt = () =>
      apply({ pledgeId }, machineEvent, `${event.type}:${event.id}`, { consumer, eventId: event.id });
    let result = await applyIt();
    if (result.outcome === "missing" && machineEvent.type === "cancel_requested") {
      // Never depend on redeliveries outlasting the stranded pledge.created: remember the cancel.
      if (await rememberCancel(pledgeId, event.id)) {
        log.info({ pledgeId, eventId: event.id }, "payment.cancel_before_created");
        return { outcome: "remembered" };
      }
      result = await applyIt();
    }
    // A refund request implies a captured payment, so this is only a lagging read: redeliver later.
    if (result.outcome === "missing") throw new Error(`no payment yet for pledge ${pledgeId}`);
    if (result.outcome === "applied" && followUp(result.decision.effects)) {
      await drive(result.payment.id, event.type).catch((err) =>
        log.error({ err, paymentId: result.payment.id }, "payment.drive_failed"),
      );
    }
    return result;
  }

  /** pledge.cancelled → never keep the money: release a hold, or refund a capture that won the race. */
  const handlePledgeCancelled = (event: EventEnvelope) =>
    handlePledgeRequest(event, { type: "cancel_requested" }, CONSUMERS.pledgeCancelled);

  /** pledge.refund_requested → refund a captured payment. */
  const handlePledgeRefundRequested = (event: EventEnvelope) =>
    handlePledgeRequest(event, { type: "refund_requested" }, CONSUMERS.pledgeRefundRequested);

  // ── Webhooks (webhooks.ts) ────────────────────────────────────────────────────────────────

  const handleWebhook = createWebhookHandler({
    db,
    bank,
    clock,
    config,
    log,
    metrics,
    verifyWebhookSignature: deps.verifyWebhookSignature,
    inboxConsumer: CONSUMERS.webhook,
    load,
    apply,
    driveLater,
  });

  // ── Reconciler step ───────────────────────────────────────────────────────────────────────

  /**
   * Converges one payment that waited too long: ask the bank what it knows (by idempotency key
   * while authorizing, by hold otherwise), apply that, then carry on with the same keys.
   */
  async function reconcile(id: string): Promise<PaymentRow | undefined> {
    const row = await load(id);
    if (!row) return undefined;
    const count = (action: string) => metrics.reconcilerActions.inc({ action });
    if (row.status === "authorizing") {
      const known = await bank.holdByKey(row.id);
      if (known.kind === "rejected" && known.status === 404) {
        // The bank never saw the authorize: send it again under the same key.
        count("authorize_retried");
        return drive(row.id, "reconciler");
      }
      if (known.kind !== "ok") {
        count("unknown");
        await deferAfterUnknown(row, "holdByKey", describeOutcome(known));
        return load(id);
      }
      if (known.value.status === "failed" || !known.value.holdId) {
        count("failed");
        await apply({ id }, { type: "authorize_failed", reason: known.value.reason ?? "declined" }, "reconciler");
        return load(id);
      }
      const hold = await bank.hold(known.value.holdId);
      const event: PaymentEvent =
        hold.kind === "ok" ? holdEvent(hold.value) : { type: "authorized", holdId: known.value.holdId };
      count(event.type);
      await apply({ id }, event, "reconciler");
      return drive(id, "reconciler");
    }
    if ((row.status === "capturing" || row.status === "refunding") && row.holdId) {
      const hold = await bank.hold(row.holdId);
      if (hold.kind !== "ok") {
        count("unknown");
        await deferAfterUnknown(row, "hold", describeOutcome(hold));
        return load(id);
      }
      const result = await apply({ id }, holdEvent(hold.value), "reconciler");
      // Not applied: the bank has not done it yet, so the same call goes again with the same key.
      count(result.outcome === "applied" ? holdEvent(hold.value).type : `${nextAction(row)}_retried`);
      return drive(id, "reconciler");
    }
    count("resumed");
    return drive(id, "reconciler");
  }

  // ── Operator API (the same steps the workers take) ──────────────────────────────────────

  async function mustLoad(id: string): Promise<PaymentRow> {
    const row = await load(id);
    if (!row) throw notFound(`Payment ${id} does not exist`);
    return row;
  }

  /** Pushes a payment along (authorize with the same key, then whatever follows); idempotent. */
  async function operatorAuthorize(paymentId: string): Promise<PaymentModel.AuthorizeResponse> {
    await mustLoad(paymentId);
    const row = (await drive(paymentId, "operator")) ?? (await mustLoad(paymentId));
    return { paymentId: row.id, holdId: row.holdId, status: row.status };
  }

  async function operatorCapture(body: PaymentModel.CaptureBody): Promise<PaymentModel.CaptureResponse> {
    const row = await mustLoad(body.paymentId);
    if (row.holdId !== body.holdId)
      throw conflict(
        row.holdId ? "The hold id does not belong to this payment" : "The payment is not authorized yet",
        "hold-mismatch",
      );
    const answer = (r: PaymentRow) => ({ paymentId: r.id, transferId: r.captureTransferId, status: r.status });
    if (row.status === "captured" || row.status === "refunding" || row.status === "refunded") return answer(row);
    if (row.cancelRequested)
      throw conflict("The payment was cancelled; it will be released, not captured", "cancelled");
    if (row.status !== "authorized" && row.status !== "capturing")
      throw conflict(`A ${row.status} payment cannot be captured`, "invalid-state");
    return answer((await drive(row.id, "operator")) ?? row);
  }

  async function operatorRelease(paymentId: string): Promise<PaymentModel.ReleaseResponse> {
    await mustLoad(paymentId);
    const result = await apply({ id: paymentId }, { type: "release_requested" }, "operator");
    if (result.outcome === "not_allowed")
      throw conflict(`${result.detail}; refund a captured payment instead`, "invalid-state");
    const row = (await drive(paymentId, "operator")) ?? (await mustLoad(paymentId));
    return { paymentId: row.id, status: row.status };
  }

  return {
    get,
    getByPledge,
    load,
    apply,
    drive,
    deferAfterUnknown,
    reconcile,
    handlePledgeCreated,
    handlePledgeCancelled,
    handlePledgeRefundRequested,
    handleWebhook,
    operatorAuthorize,
    operatorCapture,
    operatorRelease,
    /** Waits for background drives (tests, shutdown). */
    async idle(): Promise<void> {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

/** An outcome as one line for logs and last_error. */
export function describeOutcome(outcome: BankOutcome<unknown>): string {
  if (outcome.kind === "unknown") return outcome.error;
  if (outcome.kind === "rejected")
    return `rejected ${outcome.status}${outcome.problem.detail ? `: ${outcome.problem.detail}` : ""}`;
  return "ok";
}

export type PaymentService = ReturnType<typeof createPaymentService>;
