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

export interface Subscription {
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
}

export interface Bus {
  publish(event: EventEnvelope, options?: { headers?: Record<string, string> }): Promise<PublishResult>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Cheap reachability check for /ready. */
  ping(): Promise<boolean>;
  stats(): BusStats;
  close(): Promise<void>;
}
