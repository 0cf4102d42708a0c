// Live fan-out between processes: what one process publishes on a topic reaches every process
// subscribed to it now, at most once, with no storage and no acknowledgement (NATS core; in
// memory for one process). It carries pushes to WebSocket clients (totals, pledge status, chat,
// notifications): whatever must not be lost is stored by its owner first and can be read back,
// so a push missed by a reconnecting client costs freshness, never data.
//
// One process keeps ONE underlying subscription per topic however many listeners it has (a
// gateway with 2,000 sockets on one campaign holds one NATS subscription for it), and listeners
// get the payload as the JSON text it travelled as, so a gateway forwards it to its sockets
// without parsing it. While spans are recorded, a publish made inside a trace carries its context
// (NATS headers) and the listeners run inside it, so a WebSocket push joins the donation's trace.
import type { Logger } from "@careforall/log";
import { extractTraceContext, injectTraceHeaders, inRecordedTrace, withContext } from "@careforall/telemetry";
import {
  connect,
  type NatsConnection,
  type Subscription as NatsSubscription,
  headers as natsHeaders,
} from "@nats-io/transport-node";
import { natsConnectOptions } from "./jetstream";
import { assertPrefix } from "./subjects";

/** Called with the message's JSON text. A listener that throws is logged; the others still run. */
export type FanoutListener = (json: string) => void;

export interface FanoutStats {
  published: number;
  received: number;
  /** Publishes refused because the connection was closed or the message too big. */
  failed: number;
}

export interface Fanout {
  /**
   * Sends `message` (serialised as JSON, or a string already holding JSON) to every current
   * subscriber of `topic` in every process. Returns false when it could not be sent (closed,
   * disconnected past the client's buffer); never throws for that.
   */
  publish(topic: string, message: unknown): boolean;
  /** Listens on `topic`; returns the unsubscribe (idempotent). */
  subscribe(topic: string, listener: FanoutListener): () => void;
  /** Resolves once every subscription made so far is in force at the server (tests, before a publish). */
  flush(): Promise<void>;
  /** Topics this process holds an underlying subscription for. */
  topics(): number;
  ping(): Promise<boolean>;
  stats(): FanoutStats;
  close(): Promise<void>;
}

const TOKEN = /^[A-Za-z0-9_:-]+$/;

/** Throws unless `topic` is dot-separated tokens of [A-Za-z0-9_:-] (no wildcards, no spaces). */
export function assertTopic(topic: string): void {
  if (typeof topic !== "string" || topic === "" || !topic.split(".").every((t) => TOKEN.test(t))) {
    throw new Error(`invalid fan-out topic ${JSON.stringify(topic)}: expected dot-separated [A-Za-z0-9_:-] tokens`);
  }
}

const asJson = (message: unknown): string => (typeof message === "string" ? message : JSON.stringify(message));

/** The listeners of one topic and how the process unsubscribes its one underlying subscription. */
interface Topic {
  listeners: Set<FanoutListener>;
  close: () => void;
}

/** What both implementations share: topic bookkeeping with one underlying subscription per topic. */
abstract class TopicTable implements Fanout {
  protected readonly topicsByName = new Map<string, Topic>();
  protected readonly counters: FanoutStats = { published: 0, received: 0, failed: 0 };
  protected closed = false;

  constructor(protected readonly log: Logger) {}

  abstract publish(topic: string, message: unknown): boolean;
  abstract flush(): Promise<void>;
  abstract ping(): Promise<boolean>;
  protected abstract open(topic: string, deliver: (json: string) => void): () => void;

  subscribe(topic: string, listener: FanoutListener): () => void {
    assertTopic(topic);
    if (this.closed) throw new Error("fan-out is closed");
    let entry = this.topicsByName.get(topic);
    if (!entry) {
      const listeners = new Set<FanoutListener>();
      entry = { listeners, close: this.open(topic, (json) => this.deliver(topic, listeners, json)) };
      this.topicsByName.set(topic, entry);
    }
    const topicEntry = entry;
    topicEntry.listeners.add(listener);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      topicEntry.listeners.delete(listener);
      if (topicEntry.listeners.size === 0 && this.topicsByName.get(topic) === topicEntry) {
        this.topicsByName.delete(topic);
        topicEntry.close();
      }
    };
  }

  protected deliver(topic: string, listeners: Set<FanoutListener>, json: string): void {
    this.counters.received++;
    for (const listener of listeners) {
      try {
        listener(json);
      } catch (err) {
        this.log.error({ err, topic }, "fanout.listener_failed");
      }
    }
  }

  topics(): number {
    return this.topicsByName.size;
  }

  stats(): FanoutStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.topicsByName.values()) entry.close();
    this.topicsByName.clear();
  }
}

/** One process: a publish reaches this process's listeners, asynchronously as over the network. */
class MemoryFanout extends TopicTable {
  publish(topic: string, message: unknown): boolean {
    assertTopic(topic);
    if (this.closed) {
      this.counters.failed++;
      return false;
    }
    const json = asJson(message);
    this.counters.published++;
    const entry = this.topicsByName.get(topic);
    if (entry) queueMicrotask(() => this.deliver(topic, entry.listeners, json));
    return true;
  }

  protected open(): () => void {
    return () => {};
  }

  async flush(): Promise<void> {}

  async ping(): Promise<boolean> {
    return !this.closed;
  }
}

export function createMemoryFanout(options: { log: Logger }): Fanout {
  return new MemoryFanout(options.log.child({ component: "fanout", fanout: "memory" }));
}

export interface NatsFanoutOptions {
  /** e.g. nats://127.0.0.1:4222 (credentials as in NATS_URL). */
  url: string;
  /** The deployment prefix: subjects are `${prefix}.live.${topic}`. */
  prefix: string;
  log: Logger;
  /** Connection name shown in NATS monitoring. */
  name?: string;
}

/** The active trace context as NATS message headers. */
function traceHeaders() {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(injectTraceHeaders())) h.set(name, value);
  return h;
}

/** Across processes on NATS core (no JetStream: nothing is stored, nothing acknowledged). */
class NatsFanout extends TopicTable {
  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    log: Logger,
  ) {
    super(log);
  }

  #subject(topic: string): string {
    return `${this.prefix}.live.${topic}`;
  }

  publish(topic: string, message: unknown): boolean {
    assertTopic(topic);
    if (this.closed || this.nc.isClosed()) {
      this.counters.failed++;
      return false;
    }
    try {
      this.nc.publish(
        this.#subject(topic),
        asJson(message),
        inRecordedTrace() ? { headers: traceHeaders() } : undefined,
      );
      this.counters.published++;
      return true;
    } catch (err) {
      this.counters.failed++;
      this.log.warn({ err, topic }, "fanout.publish_failed");
      return false;
    }
  }

  protected open(topic: string, deliver: (json: string) => void): () => void {
    const sub: NatsSubscription = this.nc.subscribe(this.#subject(topic), {
      callback: (err, msg) => {
        if (err) {
          this.log.warn({ err, topic }, "fanout.subscription_failed");
          return;
        }
        // A traced publish: its listeners (a gateway's push) continue that trace.
        if (msg.headers?.get("traceparent")) withContext(extractTraceContext(msg.headers), () => deliver(msg.string()));
        else deliver(msg.string());
      },
    });
    return () => sub.unsubscribe();
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async ping(): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    try {
      await this.nc.rtt();
      return true;
    } catch {
      return false;
    }
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    await super.close();
    await this.nc.drain().catch(() => this.nc.close());
  }
}

export async function createNatsFanout(options: NatsFanoutOptions): Promise<Fanout> {
  assertPrefix(options.prefix);
  const nc = await connect({
    ...natsConnectOptions(options.url),
    name: options.name ?? `careforall-${options.prefix}-fanout`,
    // As the bus: a service outlives NATS restarts (subscriptions are resent on reconnect).
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  return new NatsFanout(nc, options.prefix, options.log.child({ component: "fanout", fanout: "nats" }));
}
