// The in-memory bus's durable side for the embedded profile: every accepted event and each
// durable consumer's resume point (floor), in two tables of a PostgreSQL schema (`bus` by default).
// Written through any postgres.js-like query function, so libs/bus needs no database driver.

/**
 * Runs one statement with positional parameters ($1, $2, …) and answers its rows. postgres.js:
 * `(text, params) => sql.unsafe(text, params)`; PGlite: `async (text, params) => (await pg.query(text, params)).rows`.
 */
export type JournalQuery = (text: string, params?: unknown[]) => Promise<readonly Record<string, unknown>[]>;

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

export interface SqlJournalOptions {
  /** The schema the tables live in (default `bus`): lower-case letters, digits and underscores. */
  schema?: string;
}

/** The most events one INSERT carries (6 parameters each, far below PostgreSQL's 65,535). */
export const MAX_APPEND_BATCH = 500;

export function createSqlJournal(query: JournalQuery, options: SqlJournalOptions = {}): BusJournal {
  const schema = options.schema ?? "bus";
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bus journal: invalid schema name ${JSON.stringify(schema)}`);
  const events = `"${schema}".events`;
  const consumers = `"${schema}".consumers`;

  return {
    async open({ recentSince }) {
      // Plain statements, each idempotent: two opens racing are harmless (one process per data directory anyway).
      await query(`create schema if not exists "${schema}"`);
      await query(`create table if not exists ${events} (
        seq bigint primary key,
        id text not null,
        type text not null,
        payload text not null,
        headers jsonb not null,
        published_at timestamptz not null default now()
      )`);
      await query(`create table if not exists ${consumers} (durable text primary key, floor bigint not null)`);
      const floors = new Map<string, number>();
      for (const row of await query(`select durable, floor::text as floor from ${consumers}`)) {
        floors.set(String(row.durable), Number(row.floor));
      }
      const [top] = await query(`select coalesce(max(seq), 0)::text as max from ${events}`);
      const maxSeq = Number(top?.max ?? 0);
      // No durable yet: everything retained is still ahead of the first one (it starts at the beginning).
      const lowest = floors.size > 0 ? Math.min(...floors.values()) : 0;
      const rows = await query(
        `select seq::text as seq, id, type, payload, headers::text as headers,
                (extract(epoch from published_at) * 1000)::float8 as published_at
           from ${events}
          where seq >= $1::bigint or published_at >= to_timestamp($2::float8 / 1000)
          order by seq`,
        [String(lowest), String(recentSince)],
      );
      const loaded = rows.map(
        (row): JournaledEvent => ({
          seq: Number(row.seq),
          id: String(row.id),
          type: String(row.type),
          payload: String(row.payload),
          headers: JSON.parse(String(row.headers)) as Record<string, string>,
          publishedAt: Number(row.published_at),
        }),
      );
      const highestFloor = floors.size > 0 ? Math.max(...floors.values()) : 1;
      return { events: loaded, floors, nextSeq: Math.max(maxSeq + 1, highestFloor) };
    },

    async append(batch) {
      if (batch.length === 0) return;
      if (batch.length > MAX_APPEND_BATCH)
        throw new Error(`bus journal: at most ${MAX_APPEND_BATCH} events per append`);
      const params: unknown[] = [];
      const values = batch.map((e) => {
        const n = params.length;
        params.push(String(e.seq), e.id, e.type, e.payload, JSON.stringify(e.headers), String(e.publishedAt));
        return `($${n + 1}::bigint, $${n + 2}::text, $${n + 3}::text, $${n + 4}::text, $${n + 5}::jsonb, to_timestamp($${n + 6}::float8 / 1000))`;
      });
      await query(
        `insert into ${events} (seq, id, type, payload, headers, published_at) values ${values.join(", ")}`,
        params,
      );
    },

    async saveFloors(floors) {
      if (floors.length === 0) return;
      const params: unknown[] = [];
      const values = floors.map(([durable, floor]) => {
        const n = params.length;
        params.push(durable, String(floor));
        return `($${n + 1}::text, $${n + 2}::bigint)`;
      });
      await query(
        `insert into ${consumers} (durable, floor) values ${values.join(", ")}
         on conflict (durable) do update set floor = excluded.floor`,
        params,
      );
    },

    async trim(belowSeq, before) {
      const rows = await query(
        `with gone as (
           delete from ${events} where seq < $1::bigint or published_at < to_timestamp($2::float8 / 1000) returning 1
         ) select count(*)::int as n from gone`,
        [String(belowSeq), String(before)],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}
