// Delivery semantics both buses share: option defaults, the ack / nak / term decision after a
// handler (or a batch handler) runs, trace spans on both sides of a message, stats and bounded
// handler concurrency.
import type { Logger } from "@careforall/log";
import {
  batchTraceContext,
  extractTraceContext,
  failSpan,
  injectTraceHeaders,
  REQUEST_ID_HEADER,
  SpanKind,
  withSpan,
} from "@careforall/telemetry";
import { assertEventType, assertTypePattern } from "./subjects";
import type {
  BatchHandler,
  BusStats,
  EventEnvelope,
  EventHandler,
  PublishResult,
  SubscribeBatchOptions,
  SubscribeOptions,
} from "./types";

export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

export interface ResolvedSubscribeOptions {
  durable: string | undefined;
  types: string[];
  handler: EventHandler;
  maxDeliver: number;
  backoffMs: number[];
  ackWaitMs: number;
  concurrency: number;
}

/**
 * A batch consumer resolved: `handler` runs `handleBatch` on one event, so the singleton path
 * after a failed batch is plain deliver(); `concurrency` counts batches.
 */
export interface ResolvedSubscribeBatchOptions extends ResolvedSubscribeOptions {
  durable: string;
  handleBatch: BatchHandler;
  maxBatch: number;
  maxWaitMs: number;
}

/** How a consumer groups the messages it receives; a single-event consumer takes batches of one. */
export interface Batching {
  maxBatch: number;
  maxWaitMs: number;
}

export const SINGLE: Batching = { maxBatch: 1, maxWaitMs: 0 };

/** Applies the defaults documented on SubscribeOptions and rejects values that would misbehave silently. */
export function resolveSubscribeOptions(options: SubscribeOptions, api = "subscribe"): ResolvedSubscribeOptions {
  const resolved: ResolvedSubscribeOptions = {
    durable: options.durable,
    types: [...new Set(options.types)],
    handler: options.handler,
    maxDeliver: options.maxDeliver ?? 10,
    backoffMs: options.backoffMs ?? [200, 1000, 5000],
    ackWaitMs: options.ackWaitMs ?? 30_000,
    concurrency: options.concurrency ?? 16,
  };
  if (resolved.types.length === 0) throw new Error(`${api}: types must not be empty`);
  for (const t of resolved.types) assertTypePattern(t);
  if (resolved.durable !== undefined && !/^[A-Za-z0-9_-]+$/.test(resolved.durable)) {
    throw new Error(`${api}: invalid durable name ${JSON.stringify(resolved.durable)}`);
  }
  if (!Number.isInteger(resolved.maxDeliver) || resolved.maxDeliver < 1)
    throw new Error(`${api}: maxDeliver must be >= 1`);
  if (resolved.backoffMs.length === 0 || resolved.backoffMs.some((ms) => !(ms >= 0))) {
    throw new Error(`${api}: backoffMs must be a non-empty list of delays >= 0`);
  }
  if (!Number.isInteger(resolved.concurrency) || resolved.concurrency < 1)
    throw new Error(`${api}: concurrency must be >= 1`);
  if (!(resolved.ackWaitMs > 0)) throw new Error(`${api}: ackWaitMs must be > 0`);
  return resolved;
}

/** Applies the defaults documented on SubscribeBatchOptions, validating like resolveSubscribeOptions. */
export function resolveSubscribeBatchOptions(options: SubscribeBatchOptions): ResolvedSubscribeBatchOptions {
  if (typeof options.durable !== "string" || options.durable === "") {
    throw new Error("subscribeBatch: durable is required (batches are for durable consumers)");
  }
  const { handleBatch } = options;
  const base = resolveSubscribeOptions(
    {
      durable: options.durable,
      types: options.types,
      handler: (event, ctx) => handleBatch([{ event, ctx }]),
      maxDeliver: options.maxDeliver,
      backoffMs: options.backoffMs,
      ackWaitMs: options.ackWaitMs,
      concurrency: options.concurrency ?? 1,
    },
    "subscribeBatch",
  );
  const resolved: ResolvedSubscribeBatchOptions = {
    ...base,
    durable: options.durable,
    handleBatch,
    maxBatch: options.maxBatch ?? 100,
    maxWaitMs: options.maxWaitMs ?? 5,
  };
  if (!Number.isInteger(resolved.maxBatch) || resolved.maxBatch < 1)
    throw new Error("subscribeBatch: maxBatch must be >= 1");
  if (!(resolved.maxWaitMs >= 0) || !Number.isFinite(resolved.maxWaitMs))
    throw new Error("subscribeBatch: maxWaitMs must be a finite number >= 0");
  return resolved;
}

/** The delay before redelivery after the n-th failed delivery; the last delay repeats. */
export function backoffDelay(backoffMs: readonly number[], deliveryCount: number): number {
  const index = Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1);
  return backoffMs[index] ?? 0;
}

export function createStats(): BusStats {
  return { published: 0, duplicates: 0, handled: 0, failed: 0, terminated: 0, redelivered: 0 };
}

/** Rejects envelopes that could not be routed or deduplicated, before they reach the wire. */
export function assertEnvelope(event: EventEnvelope): void {
  if (typeof event?.id !== "string" || event.id === "") throw new Error("publish: event.id must be a non-empty string");
  assertEventType(event.type);
}

/** Parses a payload into an envelope; throws when it is not JSON or lacks the routing fields. */
export function parseEnvelope(payload: string): EventEnvelope {
  const value = JSON.parse(payload) as Partial<EventEnvelope> | null;
  if (!value || typeof value !== "object" || typeof value.id !== "string" || typeof value.type !== "string") {
    throw new Error("payload is not an event envelope");
  }
  return value as EventEnvelope;
}

/**
 * Runs `send` inside a PRODUCER span and hands it the headers to put on the wire. A caller
 * that carries a stored `traceparent` (the outbox relay) continues that trace instead of the
 * relay's own context.
 */
export function publishInSpan(
  event: EventEnvelope,
  subject: string,
  extra: Record<string, string> | undefined,
  send: (headers: Record<string, string>) => Promise<PublishResult>,
): Promise<PublishResult> {
  const parent = extra?.traceparent ? extractTraceContext(extra) : undefined;
  return withSpan(
    `${event.type} publish`,
    {
      kind: SpanKind.PRODUCER,
      ...(parent ? { parent } : {}),
      attributes: { "messaging.destination.name": subject, "messaging.message.id": event.id },
    },
    () => {
      const headers: Record<string, string> = { ...extra };
      delete headers.traceparent;
      delete headers.tracestate;
      return send(injectTraceHeaders(headers));
    },
  );
}

export type Settlement = { kind: "ack" } | { kind: "nak"; delayMs: number } | { kind: "term" };

/** A received message that passed the bus's checks, ready for a handler, with how to settle it. */
export interface DeliveryEntry {
  event: EventEnvelope;
  headers: Record<string, string>;
  deliveryCount: number;
  /** Destination name for span attributes and logs (subject or type). */
  subject: string;
  /** Applies the event's fate on the bus: ack, nak with delay, or term. */
  settle(settlement: Settlement): void;
}

export interface DeliverArgs {
  event: EventEnvelope;
  headers: Record<string, string>;
  deliveryCount: number;
  options: ResolvedSubscribeOptions;
  /** Destination name for span attributes and logs (subject or type). */
  subject: string;
  log: Logger;
  stats: BusStats;
}

/**
 * Runs the handler inside a CONSUMER span continuing the publisher's trace, and decides the
 * message's fate: ack on success, nak with backoff on failure, term once maxDeliver is reached.
 * Broadcast subscriptions never redeliver, so their failures are only logged.
 */
export async function deliver({
  event,
  headers,
  deliveryCount,
  options,
  subject,
  log,
  stats,
}: DeliverArgs): Promise<Settlement> {
  const fields = { eventId: event.id, eventType: event.type, durable: options.durable, deliveryCount };
  // The failure is logged inside the CONSUMER span, so its line carries the event's request and trace ids.
  return withSpan(
    `${event.type} process`,
    {
      kind: SpanKind.CONSUMER,
      parent: extractTraceContext(headers),
      attributes: {
        "messaging.destination.name": subject,
        "messaging.message.id": event.id,
        "messaging.consumer.group.name": options.durable ?? "broadcast",
        "messaging.delivery_count": deliveryCount,
      },
    },
    async (span): Promise<Settlement> => {
      try {
        await options.handler(event, { deliveryCount, headers });
      } catch (err) {
        failSpan(span, err);
        stats.failed++;
        if (options.durable === undefined) {
          log.error({ ...fields, err }, "bus.broadcast_handler_failed");
          return { kind: "ack" };
        }
        if (deliveryCount >= options.maxDeliver) {
          stats.terminated++;
          log.error({ ...fields, maxDeliver: options.maxDeliver, err }, "bus.event_terminated");
          return { kind: "term" };
        }
        const delayMs = backoffDelay(options.backoffMs, deliveryCount);
        log.warn({ ...fields, retryInMs: delayMs, err }, "bus.handler_failed");
        return { kind: "nak", delayMs };
      }
      stats.handled++;
      return { kind: "ack" };
    },
  );
}

/** Runs the single-event handler on one entry and settles it (the subscribe() path). */
export async function deliverEntry(
  entry: DeliveryEntry,
  options: ResolvedSubscribeOptions,
  log: Logger,
  stats: BusStats,
): Promise<void> {
  countRedeliveries([entry], stats);
  await deliverAlone(entry, options, log, stats);
}

async function deliverAlone(
  entry: DeliveryEntry,
  options: ResolvedSubscribeOptions,
  log: Logger,
  stats: BusStats,
): Promise<void> {
  const { event, headers, deliveryCount, subject } = entry;
  entry.settle(await deliver({ event, headers, deliveryCount, subject, options, log, stats }));
}

/** Counts the entries handed over before (exported as careforall_bus_events_redelivered_total). */
function countRedeliveries(entries: readonly DeliveryEntry[], stats: BusStats): void {
  for (const entry of entries) if (entry.deliveryCount > 1) stats.redelivered++;
}

/**
 * The subscribeBatch() path: one CONSUMER span per call, linked to every event's trace, and
 * all events acked when the handler resolves. When it throws, each event is re-run alone
 * through deliver() and settled by its own result, so a poison event costs its neighbours one
 * extra run instead of their redelivery and, at maxDeliver, their termination.
 */
export async function deliverBatch(
  entries: DeliveryEntry[],
  options: ResolvedSubscribeBatchOptions,
  log: Logger,
  stats: BusStats,
): Promise<void> {
  const [only] = entries;
  // A batch of one is a singleton already: running it twice on failure would only repeat it.
  if (entries.length === 1 && only) return deliverEntry(only, options, log, stats);
  countRedeliveries(entries, stats);
  const types = [...new Set(entries.map((e) => e.event.type))];
  const trace = batchTraceContext(entries.map((e) => e.headers));
  const requestIds = [...new Set(entries.map((e) => e.headers[REQUEST_ID_HEADER]).filter((id) => id !== undefined))];
  const failed = await withSpan(
    `${types.length === 1 ? types[0] : options.durable} process`,
    {
      kind: SpanKind.CONSUMER,
      // A batch of events of one trace (one donation's pledge.captured and totals) continues it;
      // one of several traces belongs to none: a new root, linked to each event's trace, so every
      // donation stays followable.
      parent: trace.parent,
      links: trace.links,
      attributes: {
        "messaging.destination.name": [...new Set(entries.map((e) => e.subject))].join(","),
        "messaging.consumer.group.name": options.durable,
        "messaging.batch.message_count": entries.length,
        ...(requestIds.length > 1 ? { "request.ids": requestIds as string[] } : {}),
      },
    },
    async (span) => {
      try {
        await options.handleBatch(
          entries.map((e) => ({ event: e.event, ctx: { deliveryCount: e.deliveryCount, headers: e.headers } })),
        );
        return false;
      } catch (err) {
        failSpan(span, err);
        log.warn({ durable: options.durable, batchSize: entries.length, types, err }, "bus.batch_failed");
        return true;
      }
    },
  );
  if (failed) {
    // Each event alone, in its own trace (deliver continues it).
    for (const entry of entries) await deliverAlone(entry, options, log, stats);
    return;
  }
  stats.handled += entries.length;
  for (const entry of entries) entry.settle({ kind: "ack" });
}

/** Bounds how many handlers run at once and lets stop() wait for the ones in flight. */
export class TaskPool {
  readonly #inflight = new Set<Promise<void>>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.#inflight.size;
  }

  get hasCapacity(): boolean {
    return this.#inflight.size < this.limit;
  }

  /** Resolves once another task may start. */
  async slot(): Promise<void> {
    while (this.#inflight.size >= this.limit) await Promise.race(this.#inflight);
  }

  /** Starts a task that must not reject (failures are settled inside it); resolves once its slot is free again. */
  start(task: () => Promise<void>): Promise<void> {
    const p: Promise<void> = task()
      .catch(() => {})
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
    return p;
  }

  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }
}
