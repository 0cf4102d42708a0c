// Consumes payment.* (durable, shared by replicas) in batches: a batch's events run the pure
// pledge machine in stream order and commit together — new statuses, history and pledge.<status>
// events — with the inbox records of their ids (invariant 5), in one transaction of a handful of
// set-based statements whatever the batch size. A redelivered or duplicate event changes nothing.
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { PaymentChange, type PledgeChangeType } from "@careforall/events";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent, recordInboxMany } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { asc, inArray, sql } from "drizzle-orm";
import { inbox, outbox, type PledgeRow, pledgeHistory, pledges } from "../db/schema";
import { decide, PAYMENT_EVENT_TYPES, type PaymentEventType } from "../domain";
import { type PledgeDb, pledgeChange } from "../pledge-store";

export const PAYMENT_CONSUMER = "pledge-payments";

export interface PaymentEventsDeps {
  db: PledgeDb;
  clock: Clock;
  log: Logger;
  onCommitted?: (() => void) | undefined;
}

export type PaymentEventOutcome = "applied" | "ignored" | "duplicate" | "unknown-pledge" | "malformed";

const isPaymentType = (type: string): type is PaymentEventType =>
  PAYMENT_EVENT_TYPES.includes(type as PaymentEventType);

/** The batch handler, exposed so tests can drive it without a bus. Throws only on infrastructure failures (redelivered). */
export function createPaymentEventsHandler({ db, clock, log, onCommitted }: PaymentEventsDeps) {
  return async function handlePaymentEvents(events: EventEnvelope[]): Promise<PaymentEventOutcome[]> {
    const outcomes: PaymentEventOutcome[] = events.map((event) => {
      // A payload that does not parse will not parse on redelivery either: log it and let it go.
      if (isPaymentType(event.type) && Value.Check(PaymentChange, event.data)) return "duplicate";
      log.error({ eventId: event.id, eventType: event.type }, "pledge.payment_event_malformed");
      return "malformed";
    });
    const valid = events.filter((_, i) => outcomes[i] !== "malformed") as Array<EventEnvelope<PaymentChange>>;
    if (valid.length === 0) return outcomes;

    const emitted = await db.transaction(async (tx) => {
      const fresh = await recordInboxMany(
        tx,
        inbox,
        PAYMENT_CONSUMER,
        valid.map((e) => e.id),
      );
      const ids = [...new Set(valid.filter((e) => fresh.has(e.id)).map((e) => e.data.pledgeId))].sort();
      if (ids.length === 0) return 0;
      // Row locks in one order: concurrent batches and commands on these pledges serialise here.
      const locked = await tx
        .select()
        .from(pledges)
        .where(inArray(pledges.id, ids))
        .orderBy(asc(pledges.id))
        .for("update");
      const current = new Map<string, PledgeRow>(locked.map((r) => [r.id, r]));
      const seqs = new Map(
        (
          await tx
            .select({ pledgeId: pledgeHistory.pledgeId, seq: sql<number>`max(${pledgeHistory.seq})::int` })
            .from(pledgeHistory)
            .where(inArray(pledgeHistory.pledgeId, ids))
            .groupBy(pledgeHistory.pledgeId)
        ).map((r) => [r.pledgeId, r.seq]),
      );
      const at = clock.date();
      const changed = new Set<string>();
      const history: Array<typeof pledgeHistory.$inferInsert> = [];
      const steps: Array<{ row: PledgeRow; status: PledgeChangeType }> = [];
      for (const [i, event] of events.entries()) {
        // Each first-seen id applies once: a repeat of it inside this batch stays "duplicate".
        if (outcomes[i] === "malformed" || !fresh.delete(event.id)) continue;
        const data = event.data as PaymentChange;
        const row = current.get(data.pledgeId);
        if (!row) {
          log.error({ eventId: event.id, pledgeId: data.pledgeId }, "pledge.payment_event_unknown_pledge");
          outcomes[i] = "unknown-pledge";
          continue;
        }
        const decision = decide(row.status, { type: event.type as PaymentEventType, reason: data.reason });
        if (decision.kind !== "transition") {
          log.debug(
            { eventId: event.id, pledgeId: row.id, status: row.status, eventType: event.type },
            "pledge.event_ignored",
          );
          outcomes[i] = "ignored";
          continue;
        }
        // Applied in memory in stream order, so two events of one pledge in one batch chain correctly.
        const next: PledgeRow = {
          ...row,
          status: decision.state,
          failureReason: decision.failureReason ?? row.failureReason,
          updatedAt: at,
          version: row.version + decision.steps.length,
        };
        current.set(row.id, next);
        changed.add(row.id);
        let seq = seqs.get(row.id) ?? 0;
        for (const status of decision.steps) {
          history.push({ pledgeId: row.id, seq: ++seq, status, at });
          steps.push({ row: next, status: `pledge.${status}` as PledgeChangeType });
        }
        seqs.set(row.id, seq);
        log.debug({ pledgeId: row.id, from: row.status, steps: decision.steps }, "pledge.transitioned");
        outcomes[i] = "applied";
      }
      if (changed.size === 0) return 0;
      const values = [...changed].map((id) => {
        const r = current.get(id)!;
        return { id, status: r.status, failure_reason: r.failureReason, version: r.version };
      });
      // Raw SQL: drizzle cannot update many rows from a list of values in one statement.
      await tx.execute(sql`
        update ${pledges} p set status = v.status, failure_reason = v.failure_reason,
          version = v.version, updated_at = ${at.toISOString()}::timestamptz
        from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(id uuid, status text, failure_reason text, version int)
        where p.id = v.id`);
      await tx.insert(pledgeHistory).values(history);
      // Built after the rows' locks, so their UUIDv7 ids (the relay's publish order) follow the lock order.
      await enqueue(
        tx,
        outbox,
        steps.map(({ row, status }) =>
          newEvent(status, row.id, pledgeChange(row, status.slice("pledge.".length) as PledgeRow["status"], at), clock),
        ),
      );
      return steps.length;
    });
    if (emitted > 0) onCommitted?.();
    return outcomes;
  };
}

/** One event at a time (tests, and the shape older callers know): a batch of one. */
export function createPaymentEventHandler(deps: PaymentEventsDeps) {
  const handleMany = createPaymentEventsHandler(deps);
  return async (event: EventEnvelope): Promise<PaymentEventOutcome> => (await handleMany([event]))[0]!;
}

export function startPaymentConsumer(bus: Bus, deps: PaymentEventsDeps): Promise<Subscription> {
  const handle = createPaymentEventsHandler(deps);
  return bus.subscribeBatch({
    durable: PAYMENT_CONSUMER,
    // The payment changes only: payment also publishes operational events (e.g.
    // payment.webhook_signature_failures, for operators), which are not the pledge's business.
    types: [...PAYMENT_EVENT_TYPES],
    handleBatch: async (items) => {
      await handle(items.map((i) => i.event));
    },
    maxBatch: 200,
    maxWaitMs: 10,
  });
}
