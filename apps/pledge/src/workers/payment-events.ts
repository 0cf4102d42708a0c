// Consumes payment.* (durable, shared by replicas): each event runs the pure pledge machine and
// commits the new status, its history and pledge.<status> events together with the inbox record
// of the event id (invariant 5), so a redelivered or duplicate event changes nothing.
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { PaymentChange } from "@careforall/events";
import type { Logger } from "@careforall/log";
import { recordInbox } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { inbox } from "../db/schema";
import { decide, PAYMENT_EVENT_TYPES, type PaymentEventType } from "../domain";
import { applyTransition, lockPledge, type PledgeDb } from "../pledge-store";

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

/** The handler, exposed so tests can drive it without a bus. Throws only on infrastructure failures (redelivered). */
export function createPaymentEventHandler({ db, clock, log, onCommitted }: PaymentEventsDeps) {
  return async function handlePaymentEvent(event: EventEnvelope): Promise<PaymentEventOutcome> {
    // A payload that does not parse will not parse on redelivery either: log it and let it go.
    if (!isPaymentType(event.type) || !Value.Check(PaymentChange, event.data)) {
      log.error({ eventId: event.id, eventType: event.type }, "pledge.payment_event_malformed");
      return "malformed";
    }
    const data = event.data;
    const outcome = await db.transaction(async (tx): Promise<PaymentEventOutcome> => {
      if (!(await recordInbox(tx, inbox, PAYMENT_CONSUMER, event.id))) return "duplicate";
      const row = await lockPledge(tx, data.pledgeId);
      if (!row) {
        log.error({ eventId: event.id, pledgeId: data.pledgeId }, "pledge.payment_event_unknown_pledge");
        return "unknown-pledge";
      }
      const decision = decide(row.status, { type: event.type as PaymentEventType, reason: data.reason });
      if (decision.kind !== "transition") {
        log.debug(
          { eventId: event.id, pledgeId: row.id, status: row.status, eventType: event.type },
          "pledge.event_ignored",
        );
        return "ignored";
      }
      await applyTransition(tx, row, decision, clock);
      log.info({ pledgeId: row.id, from: row.status, steps: decision.steps }, "pledge.transitioned");
      return "applied";
    });
    if (outcome === "applied") onCommitted?.();
    return outcome;
  };
}

export function startPaymentConsumer(bus: Bus, deps: PaymentEventsDeps): Promise<Subscription> {
  const handle = createPaymentEventHandler(deps);
  return bus.subscribe({
    durable: PAYMENT_CONSUMER,
    types: ["payment.*"],
    handler: async (event) => {
      await handle(event);
    },
  });
}
