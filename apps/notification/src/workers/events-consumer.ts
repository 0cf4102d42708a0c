// Subscribes the applier to every event notification needs, in batches (durable: one replica
// handles each batch, applied in one transaction). A failed batch is retried by the bus event by
// event with backoff; the inbox makes any redelivery harmless.
import type { Bus, Subscription } from "@careforall/bus";
import { CONSUMED_EVENTS, EVENTS_CONSUMER, type EventApplier } from "../apply-events";

export interface EventsConsumerOptions {
  maxBatch?: number;
  maxWaitMs?: number;
}

export function startEventsConsumer(
  bus: Bus,
  apply: EventApplier,
  { maxBatch = 200, maxWaitMs = 5 }: EventsConsumerOptions = {},
): Promise<Subscription> {
  return bus.subscribeBatch({
    durable: EVENTS_CONSUMER,
    types: CONSUMED_EVENTS,
    maxDeliver: 50,
    backoffMs: [100, 500, 2000, 5000],
    maxBatch,
    maxWaitMs,
    // One batch at a time per process: its pushes go out before the next batch's, so one process
    // never pushes an older totals snapshot after a newer one.
    concurrency: 1,
    handleBatch: async (items) => {
      await apply(items.map((item) => item.event));
    },
  });
}
