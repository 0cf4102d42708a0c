// PostgreSQL's own counters for the bench database, snapshotted at a scenario's marks:
// pg_stat_database (commits, rollbacks, rows inserted/updated/deleted) and, when the server
// preloads it, pg_stat_statements (calls and execution time per statement).
//
// PostgreSQL 15 publishes a backend's pg_stat_database counters lazily: when it commits a
// transaction that wrote at least a second after its previous publication, and when it exits.
// Read-only transactions wait for the backend's next such write (or its exit). So a snapshot
// misses what busy connections did in their last second and the read-only transactions (idle
// polls) since their last write; `allPublished` waits for the database's connections to close,
// after which a snapshot is exact. Closing them from here is no option: a service whose idle
// connection is terminated fails the query it sends next. pg_stat_statements has no such lag.
import postgres from "postgres";

export interface DbCounters {
  /** Wall-clock ms when read. */
  at: number;
  xactCommit: number;
  xactRollback: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
}

export interface DbDelta {
  seconds: number;
  commits: number;
  rollbacks: number;
  inserted: number;
  updated: number;
  deleted: number;
}

export async function readDbCounters(monitor: postgres.Sql, database: string): Promise<DbCounters> {
  const [row] = await monitor<Record<string, string>[]>`
    select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
      from pg_stat_database where datname = ${database}`;
  if (!row) throw new Error(`pg_stat_database has no row for ${database}`);
  return {
    at: Date.now(),
    xactCommit: Number(row.xact_commit),
    xactRollback: Number(row.xact_rollback),
    tupInserted: Number(row.tup_inserted),
    tupUpdated: Number(row.tup_updated),
    tupDeleted: Number(row.tup_deleted),
  };
}

export function dbDelta(a: DbCounters, b: DbCounters): DbDelta {
  return {
    seconds: (b.at - a.at) / 1000,
    commits: b.xactCommit - a.xactCommit,
    rollbacks: b.xactRollback - a.xactRollback,
    inserted: b.tupInserted - a.tupInserted,
    updated: b.tupUpdated - a.tupUpdated,
    deleted: b.tupDeleted - a.tupDeleted,
  };
}

/** Application name of the connection that reads pg_stat_statements (it stays open, uncounted). */
export const STATEMENTS_READER = "bench-counters";

/**
 * Waits until no client but the statements reader is connected to `database` (its services
 * stopped), so every backend has published its counters; false if some remain after `timeoutMs`.
 */
export async function allPublished(monitor: postgres.Sql, database: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await monitor<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
       where datname = ${database} and backend_type = 'client backend'
         and coalesce(application_name, '') <> ${STATEMENTS_READER}`;
    if ((row?.n ?? 0) === 0) return true;
    if (Date.now() > deadline) return false;
    await Bun.sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// pg_stat_statements

export interface StatementRow {
  query: string;
  calls: number;
  totalMs: number;
}

/** Statements of one database by (user, query id, top level). */
export type StatementSnapshot = Map<string, StatementRow>;

export interface StatementDelta {
  calls: number;
  /** Statements ordered by calls, most first. */
  statements: Array<StatementRow & { meanMs: number }>;
}

export type Statements =
  | { available: true; snapshot(): Promise<StatementSnapshot>; close(): Promise<void> }
  | { available: false; reason: string };

/**
 * pg_stat_statements in the bench database, if the server can provide it: CREATE EXTENSION works
 * without the library, a SELECT fails unless it is in shared_preload_libraries.
 */
export async function openStatements(databaseUrl: string): Promise<Statements> {
  const sql = postgres(databaseUrl, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: STATEMENTS_READER },
  });
  try {
    await sql`create extension if not exists pg_stat_statements`;
    await sql`select 1 from pg_stat_statements limit 1`;
  } catch (err) {
    await sql.end({ timeout: 5 }).catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    return {
      available: false,
      reason: /shared_preload_libraries/.test(message) ? "pg_stat_statements not preloaded" : message,
    };
  }
  return {
    available: true,
    snapshot: async () => {
      const rows = await sql<{ key: string; query: string; calls: string; total_ms: number }[]>`
        select userid::text || ':' || queryid::text || ':' || toplevel::text as key, query,
               calls, total_exec_time as total_ms
          from pg_stat_statements
         where dbid = (select oid from pg_database where datname = current_database())
           and queryid is not null and query not like '%pg_stat_statements%'`;
      return new Map(rows.map((r) => [r.key, { query: r.query, calls: Number(r.calls), totalMs: Number(r.total_ms) }]));
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

export function statementDelta(a: StatementSnapshot, b: StatementSnapshot): StatementDelta {
  const statements: StatementDelta["statements"] = [];
  for (const [key, now] of b) {
    const before = a.get(key);
    const calls = now.calls - (before?.calls ?? 0);
    if (calls <= 0) continue;
    const totalMs = now.totalMs - (before?.totalMs ?? 0);
    statements.push({ query: now.query, calls, totalMs, meanMs: totalMs / calls });
  }
  statements.sort((x, y) => y.calls - x.calls);
  return { calls: statements.reduce((n, s) => n + s.calls, 0), statements };
}

/** A statement's text on one line, cut to `max` characters. */
export function shortQuery(query: string, max = 100): string {
  const flat = query.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
