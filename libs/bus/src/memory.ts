// The in-process bus for the embedded profile and fast tests: an in-memory stream with the
// JetStream semantics the services rely on (dedupe window, durables shared by subscribers,
// batches formed within maxWaitMs, nak/term).
import type { Logger } from "@careforall/log";
import {
  assertEnvelope,
  type Batching,
  createStats,
  DEFAULT_DUPLICATE_WINDOW_MS,
  type DeliveryEntry,
  deliverBatch,
  deliverEntry,
  publishInSpan,
  type ResolvedSubscribeOptions,
  resolveSubscribeBatchOptions,
  resolveSubscribeOptions,
  type Settlement,
  SINGLE,
  TaskPool,
} from "./delivery";
import { eventSubject, matchesAny } from "./subjects";
import type { Bus, EventEnvelope, PublishResult, SubscribeBatchOptions, SubscribeOptions, Subscription } from "./types";

export interface MemoryBusOptions {
  log: Logger;
  /** How long a repeated event id is recognised as a duplicate (default 2 minutes). */
  duplicateWindowMs?: number;
  /** Subject prefix shown in spans and logs, mirroring the JetStream bus. */
  prefix?: string;
  /** Clock for the duplicate window, so tests can expire it without waiting. */
  now?: () => number;
}

interface StoredEvent {
  /** The envelope as JSON, so every delivery gets a fresh copy exactly like a wire payload. */
  payload: string;
  type: string;
  headers: Record<string, string>;
}

interface Pending {
  entry: StoredEvent;
  /** Deliveries so far. */
  deliveries: number;
}

/** One subscriber of a group; a single-event subscriber forms batches of one. */
interface Member {
  options: ResolvedSubscribeOptions;
  batching: Batching;
  handle: (entries: DeliveryEntry[]) => Promise<void>;
  pool: TaskPool;
  /** Events handed to this member for the batch it is forming (not started yet). */
  forming: Pending[];
  /** Starts the forming batch maxWaitMs after its first event, if it has not filled up by then. */
  flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Events handed to this member and not yet settled: forming plus running. */
  held: number;
}

/**
 * What a JetStream consumer is: a filter, a queue of undelivered or nak'd messages and the
 * subscribers pulling from it. Durable groups outlive their subscribers, like the server's.
 */
interface Group {
  durable: string | undefined;
  types: string[];
  queue: Pending[];
  members: Member[];
  next: number;
}

export function createMemoryBus(options: MemoryBusOptions): Bus {
  return new MemoryBus(options);
}

class MemoryBus implements Bus {
  readonly #stats = createStats();
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Publish time by event id, in publish order so expiry pops from the front. */
  readonly #seen = new Map<string, number>();
  readonly #stream: StoredEvent[] = [];
  readonly #durables = new Map<string, Group>();
  readonly #broadcasts = new Set<Group>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #subscriptions = new Set<Subscription>();
  #closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions) {
    this.#log = options.log.child({ component: "bus", bus: "memory" });
    this.#prefix = options.prefix ?? "local";
    this.#windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  async publish(event: EventEnvelope, options?: { headers?: Record<string, string> }): Promise<PublishResult> {
    if (this.#closing) throw new Error("bus is closed");
    assertEnvelope(event);
    const subject = eventSubject(this.#prefix, event.type);
    return publishInSpan(event, subject, options?.headers, async (headers) => {
      const now = this.#now();
      this.#expireSeen(now);
      if (this.#seen.has(event.id)) {
        this.#stats.duplicates++;
        return { duplicate: true };
      }
      this.#seen.set(event.id, now);
      const entry: StoredEvent = { payload: JSON.stringify(event), type: event.type, headers };
      this.#stream.push(entry);
      this.#stats.published++;
      for (const group of [...this.#durables.values(), ...this.#broadcasts]) this.#offer(group, entry);
      return { duplicate: false };
    });
  }

  async subscribe(input: SubscribeOptions): Promise<Subscription> {
    if (this.#closing) throw new Error("bus is closed");
    const options = resolveSubscribeOptions(input);
    return this.#attach(options, SINGLE, ([entry]) =>
      entry ? deliverEntry(entry, options, this.#log, this.#stats) : Promise.resolve(),
    );
  }

  async subscribeBatch(input: SubscribeBatchOptions): Promise<Subscription> {
    if (this.#closing) throw new Error("bus is closed");
    const options = resolveSubscribeBatchOptions(input);
    return this.#attach(options, options, (entries) => deliverBatch(entries, options, this.#log, this.#stats));
  }

  #attach(
    options: ResolvedSubscribeOptions,
    batching: Batching,
    handle: (entries: DeliveryEntry[]) => Promise<void>,
  ): Subscription {
    const member: Member = {
      options,
      batching,
      handle,
      pool: new TaskPool(options.concurrency),
      forming: [],
      flushTimer: undefined,
      held: 0,
    };
    let group: Group;
    if (options.durable === undefined) {
      group = { durable: undefined, types: options.types, queue: [], members: [member], next: 0 };
      this.#broadcasts.add(group);
    } else {
      const existing = this.#durables.get(options.durable);
      if (existing) {
        // Like a consumer update: the latest subscriber's filter applies to messages from now on.
        existing.types = options.types;
        existing.members.push(member);
        group = existing;
      } else {
        // A new durable starts at the beginning of the stream (DeliverPolicy.All).
        group = { durable: options.durable, types: options.types, queue: [], members: [member], next: 0 };
        this.#durables.set(options.durable, group);
        for (const entry of this.#stream) this.#offer(group, entry);
      }
      this.#schedulePump(group);
    }
    let stopped: Promise<void> | undefined;
    const subscription: Subscription = {
      durable: options.durable,
      stop: () => {
        stopped ??= (async () => {
          group.members = group.members.filter((m) => m !== member);
          if (group.durable === undefined) this.#broadcasts.delete(group);
          // Events handed over but not started go back first, as a nak would send them.
          clearTimeout(member.flushTimer);
          const unstarted = member.forming.splice(0);
          member.held -= unstarted.length;
          group.queue.unshift(...unstarted);
          await member.pool.drain();
          this.#subscriptions.delete(subscription);
          // Work this member left behind (a nak that came back late) goes to the remaining members.
          this.#schedulePump(group);
        })();
        return stopped;
      },
      // Waiting in the durable's queue plus held (forming or being handled) by its members.
      pending: async () =>
        group.durable === undefined ? 0 : group.queue.length + group.members.reduce((n, m) => n + m.held, 0),
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<boolean> {
    return this.#closing === undefined;
  }

  stats() {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.stop()));
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
    })();
    return this.#closing;
  }

  #expireSeen(now: number): void {
    for (const [id, at] of this.#seen) {
      if (now - at < this.#windowMs) break;
      this.#seen.delete(id);
    }
  }

  #offer(group: Group, entry: StoredEvent): void {
    if (!matchesAny(group.types, entry.type)) return;
    group.queue.push({ entry, deliveries: 0 });
    this.#schedulePump(group);
  }

  /** Handlers never run inside publish(): delivery is asynchronous, as over the network. */
  #schedulePump(group: Group): void {
    queueMicrotask(() => this.#pump(group));
  }

  /**
   * Hands queued messages to members with a free slot, round-robin so durables share work. A
   * member's batch starts once full, or maxWaitMs after its first event (batches of one at once).
   */
  #pump(group: Group): void {
    while (group.queue.length > 0) {
      const member = this.#nextMember(group);
      if (!member) return;
      const pending = group.queue.shift() as Pending;
      pending.deliveries++;
      member.held++;
      member.forming.push(pending);
      if (member.forming.length >= member.batching.maxBatch) this.#flush(group, member);
      else if (member.forming.length === 1) {
        member.flushTimer = setTimeout(() => this.#flush(group, member), member.batching.maxWaitMs);
      }
    }
  }

  #flush(group: Group, member: Member): void {
    clearTimeout(member.flushTimer);
    member.flushTimer = undefined;
    const batch = member.forming.splice(0);
    if (batch.length === 0) return;
    const entries = batch.map((pending) => this.#entry(group, member, pending));
    void member.pool.start(() => member.handle(entries)).then(() => this.#pump(group));
  }

  /** A free slot: the batch being formed still fits, since a full one has started already. */
  #nextMember(group: Group): Member | undefined {
    const n = group.members.length;
    for (let i = 0; i < n; i++) {
      const member = group.members[(group.next + i) % n];
      if (member?.pool.hasCapacity) {
        group.next = (group.next + i + 1) % n;
        return member;
      }
    }
    return undefined;
  }

  #entry(group: Group, member: Member, pending: Pending): DeliveryEntry {
    const event = JSON.parse(pending.entry.payload) as EventEnvelope;
    return {
      event,
      headers: { ...pending.entry.headers },
      deliveryCount: pending.deliveries,
      subject: eventSubject(this.#prefix, event.type),
      settle: (settlement: Settlement) => {
        member.held--;
        if (settlement.kind !== "nak" || this.#closing) return;
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          group.queue.push(pending);
          this.#pump(group);
        }, settlement.delayMs);
        this.#timers.add(timer);
      },
    };
  }
}
