// The production bus: NATS JetStream with one stream per deployment prefix, Nats-Msg-Id
// deduplication, durable pull consumers shared by replicas (single-event or batched), and
// ordered consumers for broadcast.
import type { Logger } from "@careforall/log";
import { withDeadline } from "@careforall/resilience";
import { extractTraceContext, withContext } from "@careforall/telemetry";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type MsgHdrs, type NatsConnection, nanos, headers as natsHeaders } from "@nats-io/transport-node";
import {
  assertEnvelope,
  type Batching,
  createStats,
  DEFAULT_DUPLICATE_WINDOW_MS,
  type DeliveryEntry,
  deliverBatch,
  deliverEntry,
  parseEnvelope,
  publishInSpan,
  type ResolvedSubscribeOptions,
  resolveSubscribeBatchOptions,
  resolveSubscribeOptions,
  type Settlement,
  SINGLE,
  TaskPool,
} from "./delivery";
import { assertPrefix, consumerName, coverPattern, eventSubject, matchesAny, streamName } from "./subjects";
import type { Bus, EventEnvelope, PublishResult, SubscribeBatchOptions, SubscribeOptions, Subscription } from "./types";

export interface JetStreamBusOptions {
  /** e.g. nats://127.0.0.1:4222; several servers may be comma-separated. */
  url: string;
  /** Namespaces subjects, stream and consumers, so test runs and deployments never collide. */
  prefix: string;
  log: Logger;
  /** Overrides the derived `${prefix}_EVENTS`. */
  streamName?: string;
  /** How long a repeated event id is recognised as a duplicate (default 2 minutes). */
  duplicateWindowMs?: number;
  /**
   * How long the stream keeps an event, in ms (0: forever), applied to an existing stream too.
   * Omitted: a new stream keeps events forever and an existing one keeps its max age (a tool or
   * test connecting does not undo the services' setting).
   */
  maxAgeMs?: number;
  /** Connection name shown in NATS monitoring. */
  name?: string;
}

// JetStream API error codes we recover from during idempotent provisioning.
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_ALREADY_EXISTS = 10148;
const CONSUMER_NAME_IN_USE = 10013;
const STREAM_NOT_FOUND = 10059;

const PING_TIMEOUT_MS = 2_000;
/** A consumer's lag is read at scrape time: a NATS that is away costs a scrape this much at most. */
const PENDING_TIMEOUT_MS = 500;
/** retainedSince() asks the server about the stream; a NATS that is away costs the caller this much at most. */
const INFO_TIMEOUT_MS = 5_000;
const HOUR_MS = 60 * 60_000;

/** The bus settings every service reads from its environment (`natsConfig` in libs/config). */
export interface NatsSettings {
  NATS_URL: string;
  BUS_PREFIX: string;
  BUS_DUPLICATE_WINDOW_MS: number;
  BUS_STREAM_MAX_AGE_HOURS?: number;
}

/**
 * The server list and credentials of a NATS_URL. The NATS client ignores credentials written in a
 * server URL, so `nats://user:password@host:4222` (user and password) and `nats://token@host:4222`
 * (a token) are taken out of the URLs here and passed as options; percent-escapes are decoded.
 * Several comma-separated servers share one set of credentials (the first URL that has any).
 */
export function natsConnectOptions(url: string): { servers: string[]; user?: string; pass?: string; token?: string } {
  let credentials: { user?: string; pass?: string; token?: string } | undefined;
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((server) => {
      const parsed = URL.parse(server.includes("://") ? server : `nats://${server}`);
      if (!parsed || (parsed.username === "" && parsed.password === "")) return server;
      const user = decodeURIComponent(parsed.username);
      credentials ??= parsed.password === "" ? { token: user } : { user, pass: decodeURIComponent(parsed.password) };
      return `${parsed.protocol}//${parsed.host}`;
    });
  return { servers, ...credentials };
}

/** createJetStreamBus's connection options from a service's validated config. */
export const jetStreamOptions = (config: NatsSettings) => ({
  url: config.NATS_URL,
  prefix: config.BUS_PREFIX,
  duplicateWindowMs: config.BUS_DUPLICATE_WINDOW_MS,
  ...(config.BUS_STREAM_MAX_AGE_HOURS === undefined ? {} : { maxAgeMs: config.BUS_STREAM_MAX_AGE_HOURS * HOUR_MS }),
});

export async function createJetStreamBus(options: JetStreamBusOptions): Promise<Bus> {
  assertPrefix(options.prefix);
  const { prefix } = options;
  const log = options.log.child({ component: "bus", bus: "jetstream" });
  const stream = options.streamName ?? streamName(prefix);
  const nc = await connect({
    ...natsConnectOptions(options.url),
    name: options.name ?? `careforall-${prefix}`,
    // A service outlives NATS restarts: keep reconnecting instead of closing after 10 attempts.
    maxReconnectAttempts: -1,
    // Try again every 250 ms (± jitter) rather than the default 2 s: a NATS restart costs the
    // platform a quarter of a second, not two (measured in the partial-failures bench).
    reconnectTimeWait: 250,
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, stream, prefix, {
      duplicateWindowMs: options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
      maxAgeMs: options.maxAgeMs,
    });
    return new JetStreamBus(nc, jsm, jsm.jetstream(), prefix, stream, log);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** Deletes the prefix's stream (and with it every consumer); for test cleanup. */
export async function deleteStream(url: string, prefix: string, name = streamName(prefix)): Promise<boolean> {
  const nc = await connect(natsConnectOptions(url));
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.delete(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return false;
    throw err;
  } finally {
    await nc.close();
  }
}

/**
 * Create-or-update, safe when several processes start at once: an identical config is accepted
 * by add(); a different one (older deploy, other window) makes the server answer "name in use",
 * and then this process converges the stream on its own settings.
 */
async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  prefix: string,
  limits: { duplicateWindowMs: number; maxAgeMs: number | undefined },
) {
  const subjects = [`${prefix}.evt.>`];
  // 0 is "no limit" to the server. Events past it are deleted (the archiver keeps the history).
  const max_age = nanos(limits.maxAgeMs ?? 0);
  // The server refuses a duplicate window longer than the max age: an id is remembered while its event is kept.
  const windowMs = limits.maxAgeMs ? Math.min(limits.duplicateWindowMs, limits.maxAgeMs) : limits.duplicateWindowMs;
  const duplicate_window = nanos(windowMs);
  try {
    await jsm.streams.add({
      name,
      subjects,
      duplicate_window,
      max_age,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
    });
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
    await jsm.streams.update(name, {
      subjects,
      duplicate_window,
      ...(limits.maxAgeMs === undefined ? {} : { max_age }),
    });
  }
}

function headersToRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}

function serverAtLeast(nc: NatsConnection, wanted: [number, number, number]): boolean {
  const have = (nc.info?.version ?? "0.0.0").split(".").map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < wanted.length; i++) {
    const a = have[i] ?? 0;
    const b = wanted[i] as number;
    if (a !== b) return a > b;
  }
  return true;
}

/** Multiple filter subjects need nats-server 2.10; older servers get the whole prefix and we filter here. */
function supportsMultipleFilters(nc: NatsConnection): boolean {
  return serverAtLeast(nc, [2, 10, 0]);
}

/**
 * Terminates a message. Servers before 2.10.4 do not understand `+TERM <reason>` and leave the
 * message pending (redelivered after ack_wait, never acknowledged): they get a plain term.
 */
function terminate(nc: NatsConnection, m: JsMsg, reason: string): void {
  if (serverAtLeast(nc, [2, 10, 4])) m.term(reason);
  else m.term();
}

interface Running {
  stop(): Promise<void>;
}

class JetStreamBus implements Bus {
  readonly #stats = createStats();
  /** `<prefix>.evt.`: what every event subject starts with, the type after it. */
  readonly #subjectPrefix: string;
  readonly #running = new Set<Running>();
  #closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly prefix: string,
    private readonly stream: string,
    private readonly log: Logger,
  ) {
    this.#subjectPrefix = eventSubject(prefix, "");
  }

  async publish(event: EventEnvelope, options?: { headers?: Record<string, string> }): Promise<PublishResult> {
    assertEnvelope(event);
    const subject = eventSubject(this.prefix, event.type);
    return publishInSpan(event, subject, options?.headers, async (record) => {
      const h = natsHeaders();
      for (const [key, value] of Object.entries(record)) h.set(key, value);
      // msgID becomes the Nats-Msg-Id header: JetStream drops repeats inside the duplicate window.
      const ack = await this.js.publish(subject, JSON.stringify(event), { msgID: event.id, headers: h });
      if (ack.duplicate) this.#stats.duplicates++;
      else this.#stats.published++;
      return { duplicate: ack.duplicate };
    });
  }

  async subscribe(input: SubscribeOptions): Promise<Subscription> {
    if (this.#closing) throw new Error("bus is closed");
    const options = resolveSubscribeOptions(input);
    const durable = options.durable !== undefined;
    // Pull no more than we can run: buffered messages age towards ack_wait without being worked on.
    const messages = durable
      ? await this.#durable(options, options.concurrency)
      : await this.#broadcast(options, options.concurrency);
    const running = this.#run(messages, options, SINGLE, durable, ([entry]) =>
      entry ? deliverEntry(entry, options, this.log, this.#stats) : Promise.resolve(),
    );
    return this.#track(running, options.durable);
  }

  async subscribeBatch(input: SubscribeBatchOptions): Promise<Subscription> {
    if (this.#closing) throw new Error("bus is closed");
    const options = resolveSubscribeBatchOptions(input);
    const messages = await this.#durable(options, options.maxBatch * options.concurrency);
    const running = this.#run(messages, options, options, true, (entries) =>
      deliverBatch(entries, options, this.log, this.#stats),
    );
    return this.#track(running, options.durable);
  }

  #track(running: Running, durable: string | undefined): Subscription {
    this.#running.add(running);
    const durableName = durable === undefined ? undefined : consumerName(this.prefix, durable);
    return {
      durable,
      stop: async () => {
        await running.stop();
        this.#running.delete(running);
      },
      pending: async () => {
        if (durableName === undefined) return 0;
        // Bounded: a scrape of /metrics must not wait for NATS' own request timeout while it is away.
        const info = await withDeadline(this.jsm.consumers.info(this.stream, durableName), PENDING_TIMEOUT_MS, "nats");
        return info.num_pending + info.num_ack_pending;
      },
    };
  }

  async ping(): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    try {
      await withDeadline(this.nc.rtt(), PING_TIMEOUT_MS, "nats");
      return true;
    } catch {
      return false;
    }
  }

  stats() {
    return { ...this.#stats };
  }

  async retainedSince(): Promise<Date> {
    const info = await withDeadline(this.jsm.streams.info(this.stream), INFO_TIMEOUT_MS, "nats");
    // An empty stream reports first_ts as the zero time (0001-01-01): it holds nothing older than now.
    if (info.state.messages === 0) return new Date();
    return new Date(info.state.first_ts);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#running].map((r) => r.stop()));
      this.#running.clear();
      // drain() flushes the acks of the last handlers before the socket goes away.
      if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
    })();
    return this.#closing;
  }

  /**
   * Server-side filter subjects. A server before 2.10 takes one per consumer: the narrowest
   * pattern covering every type, and #admit discards (acknowledges) the few extra events it
   * lets through. Types of different families (`user.*` and `campaign.*`) would cover nearly
   * the whole stream there: subscribe to them separately.
   */
  #filters(types: string[]): string[] {
    if (types.length === 1 || supportsMultipleFilters(this.nc)) return types.map((t) => eventSubject(this.prefix, t));
    return [eventSubject(this.prefix, coverPattern(types))];
  }

  async #durable(options: ResolvedSubscribeOptions, maxMessages: number): Promise<ConsumerMessages> {
    const name = consumerName(this.prefix, options.durable as string);
    const subjects = this.#filters(options.types);
    const config: Partial<ConsumerConfig> = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One spare delivery beyond ours: when the last attempt dies by ack_wait instead of a
      // throw, the server would otherwise drop the message silently; #admit terminates it loudly.
      max_deliver: options.maxDeliver + 1,
      ack_wait: nanos(options.ackWaitMs),
      // Exactly one of the two filter fields may be set; undefined is dropped from the JSON.
      filter_subject: subjects.length === 1 ? subjects[0] : undefined,
      filter_subjects: subjects.length === 1 ? undefined : subjects,
    };
    await this.#upsertConsumer(name, config);
    const consumer = await this.js.consumers.get(this.stream, name);
    return consumer.consume({ max_messages: maxMessages });
  }

  /**
   * Durable consumers are shared by replicas that may start together and may carry newer
   * settings: add() creates (or, on 2.9, also updates), and "already exists" falls back to update().
   */
  async #upsertConsumer(name: string, config: Partial<ConsumerConfig>): Promise<void> {
    try {
      await this.jsm.consumers.add(this.stream, config);
    } catch (err) {
      if (
        !(
          err instanceof JetStreamApiError &&
          (err.code === CONSUMER_ALREADY_EXISTS || err.code === CONSUMER_NAME_IN_USE)
        )
      ) {
        throw err;
      }
      const { max_deliver, ack_wait, filter_subject, filter_subjects } = config;
      await this.jsm.consumers.update(this.stream, name, { max_deliver, ack_wait, filter_subject, filter_subjects });
    }
  }

  async #broadcast(options: ResolvedSubscribeOptions, maxMessages: number): Promise<ConsumerMessages> {
    const subjects = this.#filters(options.types);
    // "New" is expressed as a start sequence rather than DeliverPolicy.New: the ordered consumer
    // recreates itself from its last seen sequence after a reconnect, and before its first
    // message that would be 1, replaying the whole stream to a subscriber that wants only news.
    const info = await this.jsm.streams.info(this.stream);
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subjects.length === 1 ? (subjects[0] as string) : subjects,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
    });
    return consumer.consume({ max_messages: maxMessages });
  }

  /**
   * The pull loop: waits for a free slot, then forms a batch from the first message received
   * plus whatever else arrives within maxWaitMs (up to maxBatch), and runs it as one task; at
   * most `concurrency` tasks at once. subscribe() is this loop with batches of one.
   */
  #run(
    messages: ConsumerMessages,
    options: ResolvedSubscribeOptions,
    batching: Batching,
    durable: boolean,
    handle: (entries: DeliveryEntry[]) => Promise<void>,
  ): Running {
    const pool = new TaskPool(options.concurrency);
    const reader = new MessageReader(messages);
    let stopping = false;
    let interrupt: () => void = () => {};
    /** Waits for a free slot; stop() cuts the wait short (a fresh promise each time, so nothing piles up). */
    const slotOrStop = (): Promise<void> | undefined =>
      pool.hasCapacity
        ? undefined
        : new Promise<void>((resolve) => {
            interrupt = resolve;
            void pool.slot().then(resolve);
          });
    /** The next message that should reach the handler; others are settled here. Undefined: none by the deadline. */
    const nextEntry = async (deadline?: number): Promise<DeliveryEntry | undefined> => {
      for (;;) {
        const m = await reader.next(deadline);
        if (m === undefined) return undefined;
        const entry = this.#admit(m, options, durable);
        if (entry) return entry;
      }
    };
    /** Messages received but not started when stop() came. */
    const handBack: Array<(settlement: Settlement) => void> = [];
    const loop = (async () => {
      try {
        while (!stopping && !reader.done) {
          await slotOrStop();
          if (stopping) break;
          const first = await nextEntry();
          if (!first) continue;
          const batch = [first];
          const deadline = performance.now() + batching.maxWaitMs;
          while (batch.length < batching.maxBatch && !stopping) {
            const entry = await nextEntry(deadline);
            if (!entry) break;
            batch.push(entry);
          }
          // Received after stop() came: handed back by stop() instead of started.
          if (stopping) {
            for (const entry of batch) handBack.push(entry.settle);
            break;
          }
          pool.start(() => handle(batch));
        }
        for (let m = await reader.next(); m !== undefined; m = await reader.next()) {
          const msg = m;
          handBack.push(() => msg.nak());
        }
      } catch (err) {
        if (!stopping) this.log.error({ durable: options.durable, err }, "bus.consumer_stopped");
      }
    })();
    void (async () => {
      for await (const s of messages.status()) {
        if (
          s.type === "heartbeats_missed" ||
          s.type === "consumer_deleted" ||
          s.type === "consumer_not_found" ||
          s.type === "stream_not_found"
        ) {
          this.log.warn({ durable: options.durable, status: s }, "bus.consumer_status");
        }
      }
    })().catch(() => {});
    let stopping$: Promise<void> | undefined;
    return {
      stop: () => {
        stopping$ ??= (async () => {
          stopping = true;
          interrupt();
          const closed = messages.close();
          await loop;
          await closed;
          // Messages received but not started go straight back, so another replica (or this
          // consumer's successor) gets them now instead of after ack_wait.
          if (durable && handBack.length > 0) {
            await this.#purgeAbandonedPulls(options.durable as string);
            for (const settle of handBack) settle({ kind: "nak", delayMs: 0 });
          }
          await pool.drain();
        })();
        return stopping$;
      },
    };
  }

  /**
   * nats-server 2.9 mishandles a redelivery when its only waiting pull requests have lost
   * their subscriber (ours, just closed): it strands the message until ack_wait and sends the
   * last new message twice. A consumer-info request makes the server drop such requests, so
   * the naks that follow are redelivered at once. Best effort: a failure only costs ack_wait.
   */
  async #purgeAbandonedPulls(durable: string): Promise<void> {
    try {
      await this.jsm.consumers.info(this.stream, consumerName(this.prefix, durable));
    } catch (err) {
      this.log.warn({ durable, err }, "bus.consumer_info_failed");
    }
  }

  /**
   * Checks a received message before any handler sees it: malformed payloads are terminated,
   * unwanted types acked, and messages whose every attempt outlived ack_wait terminated.
   */
  #admit(m: JsMsg, options: ResolvedSubscribeOptions, durable: boolean): DeliveryEntry | undefined {
    // A type the filter subject let through but nobody asked for (a server before 2.10 takes one
    // filter: see #filters) is settled by its subject alone, without parsing its payload.
    const subjectType = m.subject.startsWith(this.#subjectPrefix)
      ? m.subject.slice(this.#subjectPrefix.length)
      : undefined;
    if (subjectType !== undefined && !matchesAny(options.types, subjectType)) {
      if (durable) m.ack();
      return undefined;
    }
    let event: EventEnvelope;
    try {
      event = parseEnvelope(m.string());
    } catch (err) {
      // A payload that is not an envelope will never parse: retrying only delays the next one.
      this.#stats.terminated++;
      // Logged in the message's trace context: the line names the request that published it.
      withContext(extractTraceContext(headersToRecord(m.headers)), () =>
        this.log.error({ subject: m.subject, streamSeq: m.seq, durable: options.durable, err }, "bus.malformed_event"),
      );
      if (durable) terminate(this.nc, m, "malformed payload");
      return undefined;
    }
    // Checked above by subject; again only for an envelope whose type is not its subject's.
    if (event.type !== subjectType && !matchesAny(options.types, event.type)) {
      if (durable) m.ack();
      return undefined;
    }
    const deliveryCount = durable ? m.info.deliveryCount : 1;
    if (deliveryCount > options.maxDeliver) {
      // Every earlier attempt outlived ack_wait (a hung handler): give up without running it again.
      this.#stats.terminated++;
      withContext(extractTraceContext(headersToRecord(m.headers)), () =>
        this.log.error(
          {
            eventId: event.id,
            eventType: event.type,
            durable: options.durable,
            deliveryCount,
            maxDeliver: options.maxDeliver,
          },
          "bus.event_terminated",
        ),
      );
      terminate(this.nc, m, "max deliveries reached (ack wait)");
      return undefined;
    }
    return {
      event,
      headers: headersToRecord(m.headers),
      deliveryCount,
      subject: m.subject,
      settle: (settlement) => {
        if (!durable) return;
        if (settlement.kind === "ack") m.ack();
        else if (settlement.kind === "nak") m.nak(settlement.delayMs);
        else terminate(this.nc, m, "max deliveries reached");
      },
    };
  }
}

/**
 * Reads a consumer's messages with an optional deadline. A read the deadline cut short stays
 * outstanding and answers the next call, so no message is lost between batches.
 */
class MessageReader {
  readonly #it: AsyncIterator<JsMsg>;
  #next: Promise<IteratorResult<JsMsg>> | undefined;
  done = false;

  constructor(messages: ConsumerMessages) {
    this.#it = messages[Symbol.asyncIterator]();
  }

  /** The next message; undefined when the deadline (a performance.now() time) passed first or the consumer closed. */
  async next(deadline?: number): Promise<JsMsg | undefined> {
    if (this.done) return undefined;
    this.#next ??= this.#it.next();
    const read = this.#next;
    let result: IteratorResult<JsMsg> | undefined;
    if (deadline === undefined) {
      result = await read;
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now()));
      });
      try {
        result = await Promise.race([read, timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (result === undefined) return undefined;
    }
    this.#next = undefined;
    if (result.done) {
      this.done = true;
      return undefined;
    }
    return result.value;
  }
}
