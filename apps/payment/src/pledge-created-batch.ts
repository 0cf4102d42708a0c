// pledge.created in batches (DESIGN "Cost per donation"): the same phases as one payment's drive,
// taken by a whole batch at once. (1) one transaction creates every payment (advisory locks in
// one order, one inbox insert, one payments insert, one history insert); (2) the bank authorizes
// the batch in one call (keys = payment ids); (3) one transaction records every hold, moves the
// payments on to capturing and emits payment.authorized / payment.failed; (4) one capture call;
// (5) one transaction records the captures and emits payment.captured. Anything off the common
// path — a cancel that came first, an unknown or refused bank answer, a row another writer moved
// meanwhile — leaves the batch and takes the single-payment path (drive, reconciler) unchanged.
// A crash anywhere leaves each payment at a recovery point the reconciler resumes (invariant 2).

import type { EventEnvelope } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { PledgeCreated } from "@careforall/events";
import { isUuid } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { recordInboxMany } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { AuthorizeRequest, AuthorizeResult, BankClient, BankOutcome, CaptureResult } from "./bank-client";
import { authorizeRequest } from "./bank-drive";
import { CONSUMERS } from "./consumers";
import { inbox, type PaymentRow, paymentHistory, payments } from "./db/schema";
import { type Decision, type PaymentEvent, transition } from "./domain";
import { newPaymentRow, type PlannedWrite, writeDecisions } from "./payment-store";
import { describeOutcome, type PaymentDb, type PaymentService, stateOf } from "./service";

type Applied = Extract<Decision, { ok: true }>;
type Planned = PlannedWrite;

export interface PledgeCreatedBatchDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  log: Logger;
  /** The single-payment steps, for whatever leaves the batch. */
  service: Pick<PaymentService, "drive" | "deferAfterUnknown">;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
}

/** Machine events applied in order; null when one of them does not apply. */
function plan(row: PaymentRow, events: PaymentEvent[]): Applied | null {
  let state = stateOf(row);
  const effects: Applied["effects"] = [];
  for (const event of events) {
    const d = transition(state, event);
    if (!d.ok) return null;
    state = d.state;
    effects.push(...d.effects);
  }
  return { ok: true, state, effects };
}

export function createPledgeCreatedBatch({ db, bank, clock, log, service, onCommitted }: PledgeCreatedBatchDeps) {
  const authorizeAll = (items: AuthorizeRequest[]): Promise<BankOutcome<AuthorizeResult>[]> =>
    bank.authorizeBatch ? bank.authorizeBatch(items) : Promise.all(items.map((i) => bank.authorize(i)));
  const captureAll = (
    items: Array<{ idempotencyKey: string; holdId: string }>,
  ): Promise<BankOutcome<CaptureResult>[]> =>
    bank.captureBatch ? bank.captureBatch(items) : Promise.all(items.map((i) => bank.capture(i)));

  /** Leaves the batch: the single-payment drive picks the payment up from wherever it stands. */
  async function single(ids: string[], cause: string): Promise<void> {
    await Promise.all(
      ids.map((id) =>
        service.drive(id, cause).catch((err) => log.error({ err, paymentId: id, cause }, "payment.drive_failed")),
      ),
    );
  }

  /**
   * Phase 1: one payment per pledge (the unique pledge_id decides), in one transaction. The
   * per-pledge advisory locks (taken in one order, so batches never deadlock) serialise creation
   * with a cancel that finds no payment yet, exactly as the single path does.
   */
  async function createPayments(events: Array<EventEnvelope<PledgeCreated>>): Promise<PaymentRow[]> {
    const now = clock.date();
    const created = await db.transaction(async (tx) => {
      const pledgeIds = [...new Set(events.map((e) => e.data.pledgeId))].sort();
      // Raw SQL: drizzle has no builder for advisory locks.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('payment:pledge:' || p, 0))
        from (select jsonb_array_elements_text(${JSON.stringify(pledgeIds)}::jsonb) as p) ids`);
      const fresh = await recordInboxMany(
        tx,
        inbox,
        CONSUMERS.pledgeCreated,
        events.map((e) => e.id),
      );
      const firstPerPledge = new Map<string, EventEnvelope<PledgeCreated>>();
      for (const e of events)
        if (fresh.has(e.id) && !firstPerPledge.has(e.data.pledgeId)) firstPerPledge.set(e.data.pledgeId, e);
      if (firstPerPledge.size === 0) return [];
      // A cancel that overtook its pledge.created: the payment starts cancelled (invariant 1).
      const cancelled = new Set(
        (
          await tx
            .select({ pledgeId: inbox.eventId })
            .from(inbox)
            .where(
              and(
                eq(inbox.consumer, CONSUMERS.cancelledBeforeCreated),
                inArray(inbox.eventId, [...firstPerPledge.keys()]),
              ),
            )
        ).map((r) => r.pledgeId),
      );
      const rows = await tx
        .insert(payments)
        .values([...firstPerPledge.values()].map(({ data }) => newPaymentRow(data, cancelled.has(data.pledgeId), now)))
        .onConflictDoNothing({ target: payments.pledgeId })
        .returning();
      if (rows.length > 0)
        await tx.insert(paymentHistory).values(
          rows.map((row) => ({
            paymentId: row.id,
            status: "authorizing" as const,
            at: now,
            cause: `pledge.created:${firstPerPledge.get(row.pledgeId)!.id}${row.cancelRequested ? " (cancelled before)" : ""}`,
          })),
        );
      return rows;
    });
    return created;
  }

  /**
   * Writes many machine decisions in one transaction, exactly as the single path's write does
   * for one: the whole state, version + 1 on the version read (a row another writer moved is
   * left alone and returned as a loser), history rows, and the outbox events, in one statement each.
   */
  async function writeMany(planned: Planned[]): Promise<{ written: PaymentRow[]; losers: PaymentRow[] }> {
    if (planned.length === 0) return { written: [], losers: [] };
    const result = await db.transaction((tx) => writeDecisions(tx, planned, clock));
    if (result.emitted > 0) onCommitted?.();
    return result;
  }

  /** Phases 2–3: authorize the batch, record holds and refusals, move held payments on to capturing. */
  async function authorize(rows: PaymentRow[]): Promise<PaymentRow[]> {
    if (rows.length === 0) return [];
    const answers = await authorizeAll(rows.map(authorizeRequest));
    const planned: Planned[] = [];
    const unknown: Array<{ row: PaymentRow; error: string }> = [];
    const elsewhere: string[] = [];
    rows.forEach((row, i) => {
      const answer = answers[i] ?? { kind: "unknown" as const, error: "no answer for this item" };
      if (answer.kind === "ok" && answer.value.status === "held" && answer.value.holdId) {
        const decision = plan(row, [{ type: "authorized", holdId: answer.value.holdId }, { type: "capture_started" }]);
        if (decision) planned.push({ row, decision, cause: "bank:authorize" });
        else elsewhere.push(row.id);
      } else if (answer.kind === "ok" && answer.value.status === "failed") {
        const decision = plan(row, [{ type: "authorize_failed", reason: answer.value.reason ?? "declined" }]);
        if (decision) planned.push({ row, decision, cause: "bank:authorize" });
        else elsewhere.push(row.id);
      } else if (answer.kind === "unknown" || (answer.kind === "rejected" && answer.status === 409)) {
        unknown.push({ row, error: describeOutcome(answer) });
      } else {
        // A definite refusal of the whole request (402, 422, …) or a hold without an id: the single
        // path decides it (same key, so the bank answers what it already did).
        elsewhere.push(row.id);
      }
    });
    const { written, losers } = await writeMany(planned);
    await Promise.all(unknown.map(({ row, error }) => service.deferAfterUnknown(row, "authorize", error)));
    await single([...elsewhere, ...losers.map((r) => r.id)], "pledge.created");
    return written.filter((r) => r.status === "capturing");
  }

  /** Phases 4–5: capture the batch and record the captures. */
  async function capture(rows: PaymentRow[]): Promise<void> {
    if (rows.length === 0) return;
    const answers = await captureAll(rows.map((row) => ({ idempotencyKey: `${row.id}:capture`, holdId: row.holdId! })));
    const planned: Planned[] = [];
    const unknown: Array<{ row: PaymentRow; error: string }> = [];
    const elsewhere: string[] = [];
    rows.forEach((row, i) => {
      const answer = answers[i] ?? { kind: "unknown" as const, error: "no answer for this item" };
      if (answer.kind === "ok") {
        const decision = plan(row, [{ type: "captured", holdId: row.holdId, transferId: answer.value.transferId }]);
        if (decision) planned.push({ row, decision, cause: "bank:capture" });
        else elsewhere.push(row.id);
      } else if (answer.kind === "unknown") unknown.push({ row, error: answer.error });
      // Refused: the single path converges with what the bank says about the hold.
      else elsewhere.push(row.id);
    });
    const { losers } = await writeMany(planned);
    await Promise.all(unknown.map(({ row, error }) => service.deferAfterUnknown(row, "capture", error)));
    await single([...elsewhere, ...losers.map((r) => r.id)], "pledge.created");
  }

  /**
   * Handles a batch of pledge.created events. Throws only on infrastructure failures before the
   * payments are committed (the bus then retries each event alone; the inbox absorbs repeats);
   * after that commit, failures are logged and left to the reconciler, as the single path does.
   */
  return async function handlePledgeCreatedBatch(events: EventEnvelope[]): Promise<void> {
    const valid: Array<EventEnvelope<PledgeCreated>> = [];
    for (const event of events) {
      const data = event.data;
      if (Value.Check(PledgeCreated.schema, data) && isUuid(data.pledgeId) && isUuid(data.campaignId))
        valid.push(event as EventEnvelope<PledgeCreated>);
      // Redelivery cannot fix a malformed event: log it and acknowledge.
      else log.error({ eventId: event.id, type: event.type }, "payment.malformed_pledge_created");
    }
    if (valid.length === 0) return;
    const created = await createPayments(valid);
    if (created.length === 0) return;
    log.debug({ payments: created.length }, "payment.batch_created");
    try {
      const cancelled = created.filter((r) => r.cancelRequested).map((r) => r.id);
      const capturing = await authorize(created.filter((r) => !r.cancelRequested));
      await Promise.all([capture(capturing), single(cancelled, "pledge.created")]);
    } catch (err) {
      // The payments are committed; redelivering the events would not resume them, the reconciler will.
      log.error({ err, payments: created.length }, "payment.batch_drive_failed");
    }
  };
}
