// The archiver's durable consumer of every domain event (`<prefix>.evt.>`): each delivered event
// becomes its document (id = event id) and waits for its bulk request's answer. Indexed → acked.
// Refused for what it is (4xx but 429) → dead-lettered: logged with its event id, counted, acked.
// Anything else (429, 5xx, no answer) → thrown, so the bus redelivers it with backoff: an event is
// acknowledged only once Elasticsearch has it, and a redelivery overwrites its own document.
import type { Bus, Subscription } from "@careforall/bus";
import type { Logger } from "@careforall/log";
import type { BulkIndexer } from "../bulk-indexer";
import { archiveIndex, toDocument } from "../domain/document";
import type { ArchiverMetrics } from "../metrics";

/** The durable consumer's name (its lag is careforall_bus_consumer_pending{consumer="archiver"}). */
export const ARCHIVER_CONSUMER = "archiver";

/** Every event type there is. */
export const ARCHIVED_EVENTS = [">"];

export interface ArchiveConsumerOptions {
  indexPrefix: string;
  /** Events held unacknowledged at once: the most a bulk request can gather. */
  inFlight: number;
  backoffMs: number[];
  maxDeliver: number;
  ackWaitMs: number;
}

/** Thrown for an event Elasticsearch did not take now: the bus logs it and redelivers the event later. */
export class NotArchivedYet extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(`not archived (status ${status}): ${reason}`);
    this.name = "NotArchivedYet";
    // The bus logs it for every event of an outage: Elasticsearch's reason says it all, our stack nothing.
    this.stack = `${this.name}: ${this.message}`;
  }
}

export function startArchiveConsumer(
  bus: Bus,
  indexer: BulkIndexer,
  metrics: ArchiverMetrics,
  log: Logger,
  options: ArchiveConsumerOptions,
): Promise<Subscription> {
  return bus.subscribe({
    durable: ARCHIVER_CONSUMER,
    types: ARCHIVED_EVENTS,
    // One handler per event held; they wait together for the bulk request that carries them.
    concurrency: options.inFlight,
    backoffMs: options.backoffMs,
    maxDeliver: options.maxDeliver,
    ackWaitMs: options.ackWaitMs,
    handler: async (event, ctx) => {
      const outcome = await indexer.index(
        archiveIndex(options.indexPrefix, event.occurredAt),
        toDocument(event, ctx.headers),
      );
      if (outcome.kind === "indexed") {
        metrics.indexed.inc();
        return;
      }
      if (outcome.kind === "dead_letter") {
        metrics.failures.inc({ outcome: "dead_lettered" });
        log.error(
          {
            eventId: event.id,
            eventType: event.type,
            status: outcome.status,
            reason: outcome.reason,
            deliveryCount: ctx.deliveryCount,
          },
          "archiver.event_dead_lettered",
        );
        return;
      }
      metrics.failures.inc({ outcome: "retried" });
      throw new NotArchivedYet(outcome.status, outcome.reason);
    },
  });
}
