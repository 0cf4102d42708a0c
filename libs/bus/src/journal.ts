// The in-memory bus's durable side for the embedded profile: every accepted event and each
// durable consumer's resume point (floor), in a SQLite file (Bun's built-in bun:sqlite, WAL).
//
// Why not tables in the embedded PostgreSQL: PGlite is ONE backend, and the outbox relays publish
// while holding their transaction (select … for update skip locked, publish, mark published). A
// journal write through that database waits for the relay's transaction to end, which waits for
// the publish: every relay stalls until the idle-in-transaction timeout cuts it off (seen as
// CONNECT_TIMEOUT everywhere). SQLite is a separate store in the same process, written
// synchronously (tens of microseconds a batch), so a publish never waits on PGlite.
import { Database } from "bun:sqlite";

/** One accepted event as the journal keeps it. */
export interface JournaledEvent {
  /** Position in the stream, assigned by the bus in publish order; never reused. */
  seq: number;
  id: string;
  type: string;
  /** The envelope as JSON, exactly as it is delivered. */
  payload: string;
  headers: Record<string, string>;
  /** When the bus accepted it (bus clock, ms): the duplicate window and the retention are measured from it. */
  publishedAt: number;
}

/** What a bus resumes from. */
export interface JournalState {
  /** Events at or above the lowest floor, and every event accepted since `recentSince`, in seq order. */
  events: JournaledEvent[];
  /** Each durable consumer ever saved: the lowest seq it has not settled. */
  floors: Map<string, number>;
  /** The next seq to assign: above every seq ever written and every floor. */
  nextSeq: number;
}

export interface BusJournal {
  /** Creates the tables when missing and reads the state a bus resumes from. */
  open(options: { recentSince: number }): Promise<JournalState>;
  /** Writes events durably (one statement); resolves once they are committed. */
  append(events: readonly JournaledEvent[]): Promise<void>;
  /** Saves the floors of the durables given (one statement). */
  saveFloors(floors: ReadonlyArray<readonly [durable: string, floor: number]>): Promise<void>;
  /** Deletes the events below `belowSeq` and those accepted before `before` (ms); answers how many. */
  trim(belowSeq: number, before: number): Promise<number>;
}

export interface SqliteJournal extends BusJournal {
  /** Closes the file. The bus using it must be closed first. Idempotent. */
  close(): void;
}

/** The most events one transaction carries. */
export const MAX_APPEND_BATCH = 500;

interface EventRow {
  seq: number;
  id: string;
  type: string;
  payload: string;
  headers: string;
  published_at: number;
}

/**
 * Opens (creating when missing) the journal at `path`; ":memory:" keeps it in memory (tests, and
 * an embedded database without a data directory). WAL with synchronous=NORMAL: a committed write
 * survives the process being killed (it is in the operating system's hands), and the last ones
 * may be lost only if the machine itself goes down — JetStream's default posture too (it syncs
 * to disk every two minutes).
 */
export function openSqliteJournal(path: string): SqliteJournal {
  const db = new Database(path, { create: true, strict: true });
  db.run("pragma journal_mode = wal");
  db.run("pragma synchronous = normal");
  db.run(`create table if not exists events (
    seq integer primary key,
    id text not null,
    type text not null,
    payload text not null,
    headers text not null,
    published_at integer not null
  )`);
  db.run("create index if not exists events_published_at on events (published_at)");
  db.run("create table if not exists consumers (durable text primary key, floor integer not null)");
  const insert = db.prepare(
    "insert into events (seq, id, type, payload, headers, published_at) values (?, ?, ?, ?, ?, ?)",
  );
  const upsertFloor = db.prepare(
    "insert into consumers (durable, floor) values (?, ?) on conflict (durable) do update set floor = excluded.floor",
  );
  const appendAll = db.transaction((events: readonly JournaledEvent[]) => {
    for (const e of events) insert.run(e.seq, e.id, e.type, e.payload, JSON.stringify(e.headers), e.publishedAt);
  });
  const saveAll = db.transaction((floors: ReadonlyArray<readonly [string, number]>) => {
    for (const [durable, floor] of floors) upsertFloor.run(durable, floor);
  });
  let closed = false;
  // Async like any store the bus might be given; a failure rejects instead of throwing in the caller.
  const guarded =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    async (...args: A): Promise<R> => {
      if (closed) throw new Error("bus journal is closed");
      return fn(...args);
    };

  return {
    open: guarded(({ recentSince }: { recentSince: number }): JournalState => {
      const floors = new Map<string, number>();
      for (const row of db.query("select durable, floor from consumers").all() as Array<{
        durable: string;
        floor: number;
      }>) {
        floors.set(row.durable, row.floor);
      }
      const top = db.query("select coalesce(max(seq), 0) as max from events").get() as { max: number };
      // No durable yet: everything retained is still ahead of the first one (it starts at the beginning).
      const lowest = floors.size > 0 ? Math.min(...floors.values()) : 0;
      const rows = db
        .query("select * from events where seq >= ? or published_at >= ? order by seq")
        .all(lowest, recentSince) as EventRow[];
      const events = rows.map(
        (row): JournaledEvent => ({
          seq: row.seq,
          id: row.id,
          type: row.type,
          payload: row.payload,
          headers: JSON.parse(row.headers) as Record<string, string>,
          publishedAt: row.published_at,
        }),
      );
      const highestFloor = floors.size > 0 ? Math.max(...floors.values()) : 1;
      return { events, floors, nextSeq: Math.max(top.max + 1, highestFloor) };
    }),
    append: guarded((events: readonly JournaledEvent[]) => {
      if (events.length > 0) appendAll(events);
    }),
    saveFloors: guarded((floors: ReadonlyArray<readonly [string, number]>) => {
      if (floors.length > 0) saveAll(floors);
    }),
    trim: guarded(
      (belowSeq: number, before: number) =>
        db.run("delete from events where seq < ? or published_at < ?", [belowSeq, before]).changes,
    ),
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
