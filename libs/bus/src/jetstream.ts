// The production bus: NATS JetStream with one stream per deployment prefix, Nats-Msg-Id
// deduplication, durable pull consumers shared by replicas, and ordered consumers for broadcast.
import type { Logger } from "@careforall/log";
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
  createStats,
  DEFAULT_DUPLICATE_WINDOW_MS,
  deliver,
  parseEnvelope,
  publishInSpan,
  type ResolvedSubscribeOptions,
  resolveSubscribeOptions,
  TaskPool,
} from "./delivery";
import { assertPrefix, consumerName, eventSubject, matchesAny, streamName } from "./subjects";
import type { Bus, EventEnvelope, PublishResult, SubscribeOptions, Subscription } from "./types";

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
  /** Connection name shown in NATS monitoring. */
  name?: string;
}

// JetStream API error codes we recover from during idempotent provisioning.
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_ALREADY_EXISTS = 10148;
const CONSUMER_NAME_IN_USE = 10013;
const STREAM_NOT_FOUND = 10059;

const PING_TIMEOUT_MS = 2_000;

export async function createJetStreamBus(options: JetStreamBusOptions): Promise<Bus> {
  assertPrefix(options.prefix);
  const { prefix } = options;
  const log = options.log.child({ component: "bus", bus: "jetstream" });
  const stream = options.streamName ?? streamName(prefix);
  const nc = await connect({
    servers: options.url.split(",").map((s) => s.trim()),
    name: options.name ?? `careforall-${prefix}`,
    // A service outlives NATS restarts: keep reconnecting instead of closing after 10 attempts.
    maxReconnectAttempts: -1,
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, stream, prefix, options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
    return new JetStreamBus(nc, jsm, jsm.jetstream(), prefix, stream, log);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** Deletes the prefix's stream (and with it every consumer); for test cleanup. */
export async function deleteStream(url: string, prefix: string, name = streamName(prefix)): Promise<boolean> {
  const nc = await connect({ servers: url });
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
async function ensureStream(jsm: JetStreamManager, name: string, prefix: string, duplicateWindowMs: number) {
  const subjects = [`${prefix}.evt.>`];
  const duplicate_window = nanos(duplicateWindowMs);
  try {
    await jsm.streams.add({
      name,
      subjects,
      duplicate_window,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
    });
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
    await jsm.streams.update(name, { subjects, duplicate_window });
  }
}

function headersToRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}

/** Multiple filter subjects need nats-server 2.10; older servers get the whole prefix and we filter here. */
function supportsMultipleFilters(nc: NatsConnection): boolean {
  const [major = 0, minor = 0] = (nc.info?.version ?? "0.0.0").split(".").map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 10);
}

interface Running {
  stop(): Promise<void>;
}

class JetStreamBus implements Bus {
  readonly #stats = createStats();
  readonly #running = new Set<Running>();
  #closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly prefix: string,
    private readonly stream: string,
    private readonly log: Logger,
  ) {}

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
    const running = options.durable === undefined ? await this.#broadcast(options) : await this.#durable(options);
    this.#running.add(running);
    const durableName = options.durable === undefined ? undefined : consumerName(this.prefix, options.durable);
    return {
      stop: async () => {
        await running.stop();
        this.#running.delete(running);
      },
      pending: async () => {
        if (durableName === undefined) return 0;
        const info = await this.jsm.consumers.info(this.stream, durableName);
        return info.num_pending + info.num_ack_pending;
      },
    };
  }

  async ping(): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("ping timeout")), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.nc.rtt(), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  stats() {
    return { ...this.#stats };
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

  /** Server-side filter subjects; #handle re-checks the type, which matters only for the 2.9 fallback. */
  #filters(types: string[]): string[] {
    const subjects = types.map((t) => eventSubject(this.prefix, t));
    if (subjects.length === 1 || supportsMultipleFilters(this.nc)) return subjects;
    return [eventSubject(this.prefix, ">")];
  }

  async #durable(options: ResolvedSubscribeOptions): Promise<Running> {
    const name = consumerName(this.prefix, options.durable as string);
    const subjects = this.#filters(options.types);
    const config: Partial<ConsumerConfig> = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One spare delivery beyond ours: when the last attempt dies by ack_wait instead of a
      // throw, the server would otherwise drop the message silently; #handle terminates it loudly.
      max_deliver: options.maxDeliver + 1,
      ack_wait: nanos(options.ackWaitMs),
      // Exactly one of the two filter fields may be set; undefined is dropped from the JSON.
      filter_subject: subjects.length === 1 ? subjects[0] : undefined,
      filter_subjects: subjects.length === 1 ? undefined : subjects,
    };
    await this.#upsertConsumer(name, config);
    const consumer = await this.js.consumers.get(this.stream, name);
    // Pull no more than we can run: buffered messages age towards ack_wait without being worked on.
    const messages = await consumer.consume({ max_messages: options.concurrency });
    return this.#run(messages, options, true);
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

  async #broadcast(options: ResolvedSubscribeOptions): Promise<Running> {
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
    const messages = await consumer.consume({ max_messages: options.concurrency });
    return this.#run(messages, options, false);
  }

  /** The pull loop: one handler task per message, at most `concurrency` at once. */
  #run(messages: ConsumerMessages, options: ResolvedSubscribeOptions, durable: boolean): Running {
    const pool = new TaskPool(options.concurrency);
    let stopping = false;
    const loop = (async () => {
      try {
        for await (const m of messages) {
          if (!stopping) await pool.slot();
          // Messages already buffered when stop() came go straight back, so another replica
          // (or this consumer's successor) gets them now instead of after ack_wait.
          if (stopping) {
            if (durable) m.nak();
            continue;
          }
          pool.start(() => this.#handle(m, options, durable));
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
    let stopped: Promise<void> | undefined;
    return {
      stop: () => {
        stopped ??= (async () => {
          stopping = true;
          const closed = messages.close();
          await loop;
          await pool.drain();
          await closed;
        })();
        return stopped;
      },
    };
  }

  async #handle(m: JsMsg, options: ResolvedSubscribeOptions, durable: boolean): Promise<void> {
    let event: EventEnvelope;
    try {
      event = parseEnvelope(m.string());
    } catch (err) {
      // A payload that is not an envelope will never parse: retrying only delays the next one.
      this.#stats.terminated++;
      this.log.error({ subject: m.subject, streamSeq: m.seq, durable: options.durable, err }, "bus.malformed_event");
      if (durable) m.term("malformed payload");
      return;
    }
    if (!matchesAny(options.types, event.type)) {
      // Only on servers without multi-subject filters: the consumer sees the whole prefix.
      if (durable) m.ack();
      return;
    }
    const deliveryCount = durable ? m.info.deliveryCount : 1;
    if (deliveryCount > options.maxDeliver) {
      // Every earlier attempt outlived ack_wait (a hung handler): give up without running it again.
      this.#stats.terminated++;
      this.log.error(
        {
          eventId: event.id,
          eventType: event.type,
          durable: options.durable,
          deliveryCount,
          maxDeliver: options.maxDeliver,
        },
        "bus.event_terminated",
      );
      m.term("max deliveries reached (ack wait)");
      return;
    }
    const settlement = await deliver({
      event,
      headers: headersToRecord(m.headers),
      deliveryCount,
      options,
      subject: m.subject,
      log: this.log,
      stats: this.#stats,
    });
    if (!durable) return;
    if (settlement.kind === "ack") m.ack();
    else if (settlement.kind === "nak") m.nak(settlement.delayMs);
    else m.term("max deliveries reached");
  }
}
