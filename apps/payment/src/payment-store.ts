// Writing payments: the row a pledge.created starts, the PaymentChange every payment.* event
// carries, and the one way decisions of the pure machine are written — for one payment (the
// single drive, under its row lock) or for a batch — state, history and outbox events together.
import type { EventEnvelope } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import type { Tx } from "@careforall/db";
import type { PaymentChange, PledgeCreated } from "@careforall/events";
import { enqueue, newEvent } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import { outbox, type PaymentDbSchema, type PaymentRow, paymentHistory, payments } from "./db/schema";
import { type Decision, emittedEvents, enteredStatuses } from "./domain";

/** The row a pledge.created starts: authorizing, with the pledge's source and grant (one per pledge). */
export function newPaymentRow(data: PledgeCreated, cancelRequested: boolean, now: Date) {
  return {
    id: Bun.randomUUIDv7(),
    pledgeId: data.pledgeId,
    campaignId: data.campaignId,
    amountMinor: data.amountMinor,
    currency: data.currency,
    sourceAccountId: data.source.bankAccountId,
    sourceGrant: data.source.grant,
    status: "authorizing" as const,
    cancelRequested,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
  };
}

/** The PaymentChange payload every payment.* event carries. */
export function paymentChange(row: PaymentRow, at: string): PaymentChange {
  return {
    paymentId: row.id,
    pledgeId: row.pledgeId,
    holdId: row.holdId,
    amountMinor: row.amountMinor,
    currency: row.currency,
    reason: row.status === "failed" ? row.failureReason : null,
    at,
  };
}

/** A machine decision to write for a payment as it was read (its version). */
export interface PlannedWrite {
  row: PaymentRow;
  decision: Extract<Decision, { ok: true }>;
  /** What moved it, for the history rows: "bank:authorize", "webhook:<id>", "reconciler", … */
  cause: string;
}

/**
 * Writes decisions in the caller's transaction, one statement per table whatever their number:
 * the whole state, version + 1 only where the version read still holds (a payment another writer
 * moved is returned as a loser, untouched), a fresh retry budget on a new status, the history of
 * every status entered, and the outbox events (invariant 5).
 */
export async function writeDecisions(
  tx: Tx<PaymentDbSchema>,
  planned: PlannedWrite[],
  clock: Clock,
): Promise<{ written: PaymentRow[]; losers: PaymentRow[]; emitted: number }> {
  const now = clock.date();
  const at = now.toISOString();
  const values = planned.map(({ row, decision: { state } }) => ({
    id: row.id,
    version: row.version,
    status: state.status,
    hold_id: state.holdId,
    capture_transfer_id: state.captureTransferId,
    refund_transfer_id: state.refundTransferId,
    failure_reason: state.failureReason,
    cancel_requested: state.cancelRequested,
    refund_requested: state.refundRequested,
  }));
  // Raw SQL: drizzle cannot update many rows from a list of values in one statement. A new status
  // starts a fresh retry budget; the reconciler measures from updated_at.
  const updated = (await tx.execute(sql`
    update ${payments} p set
      status = v.status, hold_id = v.hold_id, capture_transfer_id = v.capture_transfer_id,
      refund_transfer_id = v.refund_transfer_id, failure_reason = v.failure_reason,
      cancel_requested = v.cancel_requested, refund_requested = v.refund_requested,
      updated_at = ${at}::timestamptz, version = p.version + 1,
      attempts = case when v.status <> p.status then 0 else p.attempts end,
      next_attempt_at = case when v.status <> p.status then ${at}::timestamptz else p.next_attempt_at end,
      last_error = case when v.status <> p.status then null else p.last_error end
    from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(id uuid, version int, status text,
      hold_id text, capture_transfer_id text, refund_transfer_id text, failure_reason text,
      cancel_requested boolean, refund_requested boolean)
    where p.id = v.id and p.version = v.version
    returning p.id`)) as unknown as Array<{ id: string }>;
  const won = new Set(updated.map((r) => r.id));
  const written: PaymentRow[] = [];
  const losers: PaymentRow[] = [];
  const history: Array<typeof paymentHistory.$inferInsert> = [];
  const events: EventEnvelope[] = [];
  for (const { row, decision, cause } of planned) {
    if (!won.has(row.id)) {
      losers.push(row);
      continue;
    }
    const statusChanged = decision.state.status !== row.status;
    const next: PaymentRow = {
      ...row,
      ...decision.state,
      updatedAt: now,
      version: row.version + 1,
      ...(statusChanged ? { attempts: 0, nextAttemptAt: now, lastError: null } : {}),
    };
    written.push(next);
    for (const status of enteredStatuses(decision.effects)) history.push({ paymentId: row.id, status, at: now, cause });
    for (const type of emittedEvents(decision.effects))
      events.push(newEvent(type, row.id, paymentChange(next, at), clock));
  }
  if (history.length > 0) await tx.insert(paymentHistory).values(history);
  await enqueue(tx, outbox, events);
  return { written, losers, emitted: events.length };
}
