// The in-process bus for the embedded profile and fast tests: an in-memory stream with the
// JetStream semantics the services rely on (dedupe window, durables shared by subscribers,
// batches formed within maxWaitMs, nak/term). Given a journal, it is crash-safe like JetStream:
// an event is stored before publish() resolves, and each durable resumes from its saved floor.
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
import { type BusJournal, type JournaledEvent, type JournalState, MAX_APPEND_BATCH } from "./journal";
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

export interface JournaledMemoryBusOptions extends MemoryBusOptions {
  /** Where accepted events and the durables' floors are stored (see createSqlJournal). */
  journal: BusJournal;
  /** How often changed floors are saved (default 100 ms); what settled since the last save is redelivered after a crash. */
  floorSaveIntervalMs?: number;
  /** How often events every durable is past are deleted, in the journal and in memory (default 10 s). */
  trimIntervalMs?: number;
  /** Events older than this are deleted even when a durable has not consumed them, so an abandoned one cannot pin the log (default 7 days). */
  retentionMs?: number;
}

/** The envelope as JSON, so every delivery gets a fresh copy exactly like a wire payload. */
type StoredEvent = JournaledEvent;

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
  /** Seqs offered to this group and not settled yet: queued, forming, running or waiting to be redelivered. */
  outstanding: Set<number>;
  /** The highest seq this group has considered (offered, or skipped by its filter). */
  last: number;
  /** The floor last saved to the journal. */
  savedFloor: number | undefined;
}

/** Where a durable resumes: its lowest unsettled seq, else just past everything it has considered. */
function floorOf(group: Group): number {
  let floor = group.last + 1;
  for (const seq of group.outstanding) if (seq < floor) floor = seq;
  return floor;
}

const DAY_MS = 24 * 60 * 60_000;

/** The bus without a journal: everything lives (and dies) with the process. */
export function createMemoryBus(options: MemoryBusOptions): Bus {
  return new MemoryBus(options);
}

/**
 * The bus on a journal: reads what it keeps (events, floors, the ids inside the duplicate window),
 * then stores every accepted event before publish() resolves. See JournaledMemoryBusOptions.
 */
export async function openJournaledMemoryBus(options: JournaledMemoryBusOptions): Promise<Bus> {
  const now = (options.now ?? Date.now)();
  const windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
  const state = await options.journal.open({ recentSince: now - windowMs });
  return new MemoryBus(options, { ...options, state });
}

interface Journaling {
  journal: BusJournal;
  state: JournalState;
  floorSaveIntervalMs?: number;
  trimIntervalMs?: number;
  retentionMs?: number;
}

/** A publish waiting for its batch to be written. */
interface Append {
  entry: StoredEvent;
  resolve(): void;
  reject(err: unknown): void;
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
  /** The next seq to assign (publish-call order). */
  #nextSeq = 1;
  /** The highest seq in the stream (written, when journaled): where a new durable's floor starts when the stream is empty. */
  #written = 0;
  readonly #journal: BusJournal | undefined;
  /** Saved floors of durables not subscribed in this process yet: they resume there, and pin the journal meanwhile. */
  readonly #parked = new Map<string, number>();
  /** Publishes waiting for the journal, written in order by one writer. */
  readonly #appends: Append[] = [];
  #writer: Promise<void> | undefined;
  /** Writes in flight by event id, so a duplicate published meanwhile shares the first one's outcome. */
  readonly #inflight = new Map<string, Promise<void>>();
  #savingFloors: Promise<void> | undefined;
  #trimming: Promise<void> | undefined;
  readonly #retentionMs: number;
  readonly #intervals: ReturnType<typeof setInterval>[] = [];

  constructor(options: MemoryBusOptions, journaling?: Journaling) {
    this.#log = options.log.child({ component: "bus", bus: "memory" });
    this.#prefix = options.prefix ?? "local";
    this.#windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#journal = journaling?.journal;
    this.#retentionMs = journaling?.retentionMs ?? 7 * DAY_MS;
    if (journaling) {
      const { state } = journaling;
      const recentSince = this.#now() - this.#windowMs;
      for (const event of state.events) {
        this.#stream.push(event);
        // Ids inside the duplicate window stay duplicates across a restart, as on JetStream.
        if (event.publishedAt >= recentSince) this.#seen.set(event.id, event.publishedAt);
      }
      for (const [durable, floor] of state.floors) this.#parked.set(durable, floor);
      this.#nextSeq = state.nextSeq;
      this.#written = state.nextSeq - 1;
      const every = (ms: number, run: () => Promise<void>) => {
        const timer = setInterval(() => void run(), ms);
        timer.unref?.();
        this.#intervals.push(timer);
      };
      every(journaling.floorSaveIntervalMs ?? 100, () => this.#saveFloors());
      every(journaling.trimIntervalMs ?? 10_000, () => this.#trim());
    }
  }

  async publish(event: EventEnvelope, options?: { headers?: Record<string, string> }): Promise<PublishResult> {
    if (this.#closing) throw new Error("bus is closed");
    assertEnvelope(event);
    const subject = eventSubject(this.#prefix, event.type);
    return publishInSpan(event, subject, options?.headers, async (headers) => {
      const now = this.#now();
      this.#expireSeen(now);
      if (this.#seen.has(event.id)) {
        // The first copy is still being written: a duplicate only once it is stored (its failure is ours too).
        await this.#inflight.get(event.id);
        this.#stats.duplicates++;
        return { duplicate: true };
      }
      this.#seen.set(event.id, now);
      const entry: StoredEvent = {
        seq: this.#nextSeq++,
        id: event.id,
        payload: JSON.stringify(event),
        type: event.type,
        headers,
        publishedAt: now,
      };
      if (!this.#journal) {
        this.#accept(entry);
        return { duplicate: false };
      }
      const written = this.#append(entry);
      this.#inflight.set(event.id, written);
      try {
        await written;
      } catch (err) {
        // Not stored: a retry of this id must be accepted, not taken for a duplicate.
        this.#seen.delete(event.id);
        throw err;
      } finally {
        this.#inflight.delete(event.id);
      }
      return { duplicate: false };
    });
  }

  /** The event is in the stream (stored, when journaled): offered to every group, in seq order. */
  #accept(entry: StoredEvent): void {
    this.#stream.push(entry);
    this.#written = entry.seq;
    this.#stats.published++;
    for (const group of [...this.#durables.values(), ...this.#broadcasts]) this.#offer(group, entry);
  }

  /**
   * Group commit: publishes of the same tick share one INSERT; batches are written one after
   * another, so events are offered in seq order and only once stored.
   */
  #append(entry: StoredEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#appends.push({ entry, resolve, reject });
      this.#writer ??= new Promise<void>((started) => queueMicrotask(started)).then(() => this.#write());
    });
  }

  async #write(): Promise<void> {
    const journal = this.#journal as BusJournal;
    try {
      while (this.#appends.length > 0) {
        const batch = this.#appends.splice(0, MAX_APPEND_BATCH);
        try {
          await journal.append(batch.map((a) => a.entry));
        } catch (err) {
          this.#log.warn({ err, events: batch.length }, "bus.journal_append_failed");
          for (const a of batch) a.reject(err);
          continue;
        }
        for (const a of batch) {
          this.#accept(a.entry);
          a.resolve();
        }
      }
    } finally {
      this.#writer = undefined;
    }
  }

  /** Saves the floors that moved since the last save, in one statement. */
  #saveFloors(): Promise<void> {
    const journal = this.#journal;
    if (!journal || this.#savingFloors) return this.#savingFloors ?? Promise.resolve();
    const changed: Array<[Group, number]> = [];
    for (const group of this.#durables.values()) {
      const floor = floorOf(group);
      if (floor !== group.savedFloor) changed.push([group, floor]);
    }
    if (changed.length === 0) return Promise.resolve();
    this.#savingFloors = journal
      .saveFloors(changed.map(([group, floor]) => [group.durable as string, floor] as const))
      .then(
        () => {
          for (const [group, floor] of changed) group.savedFloor = floor;
        },
        (err) => this.#log.warn({ err }, "bus.journal_floors_failed"),
      )
      .finally(() => {
        this.#savingFloors = undefined;
      });
    return this.#savingFloors;
  }

  /**
   * Drops the events every durable ever seen is past (kept while inside the duplicate window, so
   * dedupe survives a restart), and those older than the retention whatever the floors say.
   */
  #trim(): Promise<void> {
    const journal = this.#journal;
    if (!journal || this.#trimming) return this.#trimming ?? Promise.resolve();
    const now = this.#now();
    const floors = [...[...this.#durables.values()].map(floorOf), ...this.#parked.values()];
    // No durable yet: the first one will start at the beginning, so nothing is past.
    let below = floors.length > 0 ? Math.min(...floors) : 0;
    const recent = this.#stream.find((e) => e.publishedAt >= now - this.#windowMs);
    if (recent && recent.seq < below) below = recent.seq;
    const before = now - this.#retentionMs;
    let dropped = 0;
    for (const e of this.#stream) {
      if (e.seq >= below && e.publishedAt >= before) break;
      dropped++;
    }
    // One splice: shifting a long stream one event at a time is quadratic.
    this.#stream.splice(0, dropped);
    // Rows of failed appends never exist; rows below the stream's start were trimmed already or are
    // below every floor: the journal is trimmed even when memory had nothing to drop.
    this.#trimming = journal
      .trim(below, before)
      .then(
        (deleted) => {
          if (deleted > 0 || dropped > 0) this.#log.debug({ deleted, dropped, below }, "bus.journal_trimmed");
        },
        (err) => this.#log.warn({ err }, "bus.journal_trim_failed"),
      )
      .finally(() => {
        this.#trimming = undefined;
      });
    return this.#trimming;
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
      group = this.#group(undefined, options.types, member, this.#written + 1);
      this.#broadcasts.add(group);
    } else {
      const existing = this.#durables.get(options.durable);
      if (existing) {
        // Like a consumer update: the latest subscriber's filter applies to messages from now on.
        existing.types = options.types;
        existing.members.push(member);
        group = existing;
      } else {
        // A durable resumes at its saved floor; a new one starts at the beginning of the stream
        // (DeliverPolicy.All: what is retained).
        const saved = this.#parked.get(options.durable);
        this.#parked.delete(options.durable);
        const start = saved ?? this.#stream[0]?.seq ?? this.#written + 1;
        group = this.#group(options.durable, options.types, member, start);
        group.savedFloor = saved;
        this.#durables.set(options.durable, group);
        for (const entry of this.#stream) if (entry.seq >= start) this.#offer(group, entry);
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

  /** The oldest event still held (in memory, and so in the journal): trimmed ones can never be delivered again. */
  async retainedSince(): Promise<Date> {
    return new Date(this.#stream[0]?.publishedAt ?? this.#now());
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.stop()));
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
      for (const t of this.#intervals) clearInterval(t);
      // Publishes already called are written (or fail) before the last floors are saved.
      await this.#writer;
      await this.#trimming;
      await this.#savingFloors;
      await this.#saveFloors();
    })();
    return this.#closing;
  }

  #group(durable: string | undefined, types: string[], member: Member, start: number): Group {
    return {
      durable,
      types,
      queue: [],
      members: [member],
      next: 0,
      outstanding: new Set(),
      last: start - 1,
      savedFloor: undefined,
    };
  }

  #expireSeen(now: number): void {
    for (const [id, at] of this.#seen) {
      if (now - at < this.#windowMs) break;
      this.#seen.delete(id);
    }
  }

  #offer(group: Group, entry: StoredEvent): void {
    if (entry.seq > group.last) group.last = entry.seq;
    if (!matchesAny(group.types, entry.type)) return;
    if (group.durable !== undefined) group.outstanding.add(entry.seq);
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
        // Acked or terminated: settled for good, the floor may pass it. A nak keeps it outstanding.
        if (settlement.kind !== "nak") group.outstanding.delete(pending.entry.seq);
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
