// The `bench` profile's load run (compose.yaml `bench`, the `bench` target of
// deploy/docker/Dockerfile): the campaign read — the hot path a popular campaign puts under load —
// through the load balancer with wrk, read back by benches/lib/load.ts as `./cfa bench` does, and
// printed as one JSON line. TARGET_URL (default http://lb:8080), BENCH_DURATION (seconds, 30),
// BENCH_CONNECTIONS (64), BENCH_THREADS (2). It reads the first open campaign (the list when
// there is none yet), so it needs no account.
import { runLoad } from "../../benches/lib/load";

export interface BenchSettings {
  target: string;
  durationSec: number;
  connections: number;
  threads: number;
}

export function benchSettings(env: Record<string, string | undefined>): BenchSettings {
  const int = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number >= 1`);
    return value;
  };
  return {
    target: (env.TARGET_URL ?? "http://lb:8080").replace(/\/$/, ""),
    durationSec: int("BENCH_DURATION", 30),
    connections: int("BENCH_CONNECTIONS", 64),
    threads: int("BENCH_THREADS", 2),
  };
}

/** The URL to load: the first open campaign's page, or the list when there is none. */
export async function benchUrl(target: string): Promise<string> {
  const res = await fetch(`${target}/api/campaigns?status=open&limit=1`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /api/campaigns through ${target}: HTTP ${res.status}`);
  const body = (await res.json()) as { items?: { id: string }[] } | { id: string }[];
  const items = Array.isArray(body) ? body : (body.items ?? []);
  return items[0] ? `${target}/api/campaigns/${items[0].id}` : `${target}/api/campaigns`;
}

if (import.meta.main) {
  const settings = benchSettings(process.env);
  const url = await benchUrl(settings.target);
  const result = await runLoad({ url, ...settings });
  console.log(JSON.stringify({ scenario: "campaign-read", url, ...result }));
  process.exit(result.errors > 0 ? 1 : 0);
}
