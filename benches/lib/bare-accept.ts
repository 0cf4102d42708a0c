// The donate scenario's reference: bare-accept-server.ts in its own `bun` process (like each
// service), its tables in the bench database (schema "bare"), a postgres.js pool as large as the
// load generator's connections unless PostgreSQL's max_connections leaves less room.
import { join } from "node:path";
import { freePort } from "@careforall/http";
import type postgres from "postgres";
import { startBenchServer } from "./process";

export interface BareAccept {
  url: string;
  pid: number;
  /** postgres.js pool size it runs with. */
  poolMax: number;
  /** Rows it has committed so far. */
  rows(): Promise<{ pledges: number; outbox: number }>;
  stop(): Promise<void>;
}

export interface BareAcceptOptions {
  databaseUrl: string;
  poolMax: number;
  readyTimeoutMs?: number;
}

/**
 * The pool size to ask for: `wanted`, or fewer when PostgreSQL could not open that many more
 * connections (max_connections minus those open now, keeping `spare` for the platform and others).
 */
export async function barePoolSize(monitor: postgres.Sql, wanted: number, spare = 10): Promise<number> {
  const [row] = await monitor<{ max: number; open: number }[]>`
    select current_setting('max_connections')::int as max, (select count(*)::int from pg_stat_activity) as open`;
  if (!row) return wanted;
  return Math.max(1, Math.min(wanted, row.max - row.open - spare));
}

export async function startBareAccept(options: BareAcceptOptions): Promise<BareAccept> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const { proc, stop } = await startBenchServer({
    name: "bare accept server",
    script: join(import.meta.dir, "bare-accept-server.ts"),
    env: {
      BARE_DATABASE_URL: options.databaseUrl,
      BARE_PORT: String(port),
      BARE_POOL_MAX: String(options.poolMax),
    },
    ready: () =>
      fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.ok)
        .catch(() => false),
    readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
    graceMs: 8000,
  });
  return {
    url,
    pid: proc.pid,
    poolMax: options.poolMax,
    rows: async () => {
      const res = await fetch(`${url}/rows`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`bare accept server /rows answered ${res.status}`);
      return (await res.json()) as { pledges: number; outbox: number };
    },
    stop,
  };
}
