// The pledge consumers: pledge.created opens the pledge's one payment and drives it; pledge.cancelled
// and pledge.refund_requested apply their request through the machine, each event at most once.
import type { EventEnvelope } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { PledgeChange, PledgeCreated } from "@careforall/events";
import { isUuid } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { recordInbox } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { and, eq, sql } from "drizzle-orm";
import type { BankDrive } from "./bank-drive";
import { CONSUMERS } from "./consumers";
import { inbox, type PaymentRow, paymentHistory, payments } from "./db/schema";
import { followUp, type PaymentEvent } from "./domain";
import { newPaymentRow } from "./payment-store";
import type { ApplyEvent, LoadPayment, PaymentDb, PaymentTx, PledgeRequestResult } from "./service";

/**
 * Serialises, per pledge, the creation of its payment with a cancel that finds none yet: one of
 * them commits first and the other sees it (the payment row, or the remembered cancel). Raw SQL:
 * drizzle has no builder for advisory locks.
 */
async function lockPledgeId(tx: PaymentTx, pledgeId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`payment:pledge:${pledgeId}`}, 0))`);
}

export interface PledgeEventDeps {
  db: PaymentDb;
  clock: Clock;
  log: Logger;
  /** The payment service's own steps: read a payment, apply one event (with inbox dedupe), drive it on. */
  load: LoadPayment;
  apply: ApplyEvent;
  drive: BankDrive["drive"];
}

export function createPledgeEventHandlers(deps: PledgeEventDeps) {
  const { db, clock, log, load, apply, drive } = deps;

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

  return { handlePledgeCreated, handlePledgeCancelled, handlePledgeRefundRequested };
}
