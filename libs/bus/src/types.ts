// The event bus contract shared by the JetStream and in-process implementations.
// At-least-once delivery, publisher-side deduplication by event id, explicit ack,
// nak with backoff on failure, and termination (logged, counted) after max deliveries.
import { type Static, type TSchema, Type } from "@sinclair/typebox";

/** Every event on the bus. `id` is a UUIDv7 and doubles as the JetStream `Nats-Msg-Id`. */
export interface EventEnvelope<TData = unknown, TType extends string = string> {
  id: string;
  type: TType;
  occurredAt: string;
  aggregateId: string;
  data: TData;
}

export const EventEnvelopeSchema = <T extends TSchema>(type: string, data: T) =>
  Type.Object({
    id: Type.String(),
    type: Type.Literal(type),
    occurredAt: Type.String(),
    aggregateId: Type.String(),
    data,
  });

/** Declares an event type with its payload schema, so producers and consumers share one definition. */
export interface EventDefinition<TType extends string = string, TSchemaT extends TSchema = TSchema> {
  type: TType;
  schema: TSchemaT;
}

export function defineEvent<TType extends string, S extends TSchema>(
  type: TType,
  schema: S,
): EventDefinition<TType, S> {
  return { type, schema };
}

export type EventData<D> = D extends EventDefinition<string, infer S> ? Static<S> : never;

export interface PublishResult {
  /** True when the bus had already accepted an event with this id (deduplicated). */
  duplicate: boolean;
}

export interface DeliveryContext {
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Message headers, including `traceparent` when the publisher had a trace. */
  headers: Record<string, string>;
}

export type EventHandler = (event: EventEnvelope, ctx: DeliveryContext) => Promise<void>;

export interface SubscribeOptions {
  /**
   * Durable consumer name, shared by all replicas of a service: each event is handled by one
   * of them. Omit for a broadcast subscription (every process gets every new event; used for
   * cache invalidation).
   */
  durable?: string;
  /** Event types to receive, e.g. ["pledge.created"] or ["campaign.*"]. */
  types: string[];
  handler: EventHandler;
  /** Deliveries before the message is terminated (default 10). */
  maxDeliver?: number;
  /** Redelivery delays after a failure, in ms; the last one repeats (default [200, 1000, 5000]). */
  backoffMs?: number[];
  /** Time a handler may take before the message is redelivered (default 30_000). */
  ackWaitMs?: number;
  /** Messages handled concurrently (default 16). */
  concurrency?: number;
}

/** One event of a batch, with the same delivery context a single-event handler gets. */
export interface BatchItem {
  event: EventEnvelope;
  ctx: DeliveryContext;
}

/**
 * Applies a batch of events, typically in one database transaction. Resolving acks every event
 * of the batch. Throwing makes the bus re-run the handler with each event alone (see
 * SubscribeBatchOptions), so the handler must accept batches of one and be idempotent per event.
 */
export type BatchHandler = (items: BatchItem[]) => Promise<void>;

/**
 * A durable consumer that takes events in batches. Semantics, identical on both buses:
 * - `handleBatch` gets 1..maxBatch events in stream order, formed from what is already
 *   available: once the first event is in hand the bus waits at most `maxWaitMs` for more, so
 *   a lone event is handled promptly. The handler resolving acks every event of the batch.
 * - The handler throwing on a batch of several events re-runs it at once with each event of
 *   that batch alone (sequentially); each event is then settled by its own result exactly like
 *   subscribe(): ack on success, nak with backoff on failure, term (logged, counted) once
 *   maxDeliver is reached. One poison event neither blocks nor terminates its neighbours.
 *   A batch of one is delivered exactly like subscribe() (its failure is its own).
 * - Stats count events: `handled`, `failed` and `terminated` move per event (a failed batch
 *   call is logged as `bus.batch_failed`; only the failures of events run alone count).
 * - At most `concurrency` batches run at once, and the consumer holds about
 *   maxBatch × concurrency messages (buffered messages age towards ack_wait).
 * - Malformed payloads are terminated and events of unwanted types acked, without reaching
 *   the handler; an event whose every earlier delivery outlived ack_wait is terminated unrun.
 * - The one CONSUMER span of a batch call links to every event's trace; a batch whose events
 *   all belong to one trace (a batch of one included) continues it, carrying its request id.
 * - stop() stops fetching, lets the batches in flight finish and hands back (naks) events
 *   received but not started.
 */
export interface SubscribeBatchOptions {
  /** Durable consumer name (batches are for durable consumers only), shared by replicas. */
  durable: string;
  /** Event types to receive, e.g. ["pledge.created"] or ["campaign.*"]. */
  types: string[];
  handleBatch: BatchHandler;
  /** Most events handed to one call (default 100). */
  maxBatch?: number;
  /** After the first event of a batch is in hand, how long to wait for more before handling it (default 5 ms). */
  maxWaitMs?: number;
  /** Batches handled at once (default 1). */
  concurrency?: number;
  /** Deliveries of an event before it is terminated (default 10), as in SubscribeOptions. */
  maxDeliver?: number;
  /** Redelivery delays after an event failed alone, in ms; the last one repeats (default [200, 1000, 5000]). */
  backoffMs?: number[];
  /**
   * Time an event may stay unacknowledged after delivery (its batch call and, after a failure,
   * the singleton re-runs before it included) before it is redelivered (default 30_000).
   */
  ackWaitMs?: number;
}

export interface Subscription {
  /** The durable consumer's name as subscribed (no bus prefix); undefined for a broadcast. Labels its lag. */
  readonly durable: string | undefined;
  /** Stops fetching; waits for in-flight handlers to finish. */
  stop(): Promise<void>;
  /** Consumer lag: events matching this subscription not yet acknowledged (0 for broadcasts). */
  pending(): Promise<number>;
}

export interface BusStats {
  published: number;
  duplicates: number;
  handled: number;
  failed: number;
  terminated: number;
  /** Deliveries of an event its consumer had been handed before (delivery count above 1). */
  redelivered: number;
}

export interface Bus {
  publish(event: EventEnvelope, options?: { headers?: Record<string, string> }): Promise<PublishResult>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** A durable consumer handed batches of events; see SubscribeBatchOptions for the semantics. */
  subscribeBatch(options: SubscribeBatchOptions): Promise<Subscription>;
  /** Cheap reachability check for /ready. */
  ping(): Promise<boolean>;
  stats(): BusStats;
  /**
   * The time of the oldest event the bus could still deliver (to a consumer created now, or on a
   * replay); now when it holds none. Nothing older can reach a consumer again, so consumers may
   * forget (prune) what they recorded of older events. One round trip: fine once a minute.
   */
  retainedSince(): Promise<Date>;
  close(): Promise<void>;
}
