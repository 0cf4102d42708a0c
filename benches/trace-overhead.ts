// What tracing costs the hot read, in process (no load generator, no network): µs per cached
// `GET /api/campaigns/:id`, through the Bun native route's handler (what main.ts mounts) and through
// the gateway app's handle() (httpKit's hooks and server span), with spans not recorded (no
// OTEL_EXPORTER_OTLP_ENDPOINT) and recorded (exported to a local sink that accepts and drops them).
// Each mode runs in a process of its own (recording is switched on once per process), with the
// access log on, as `./cfa start` runs it (its chunks go to /dev/null here).
//
//   bun benches/trace-overhead.ts [--iterations 200000] [--rounds 5]
import { createMemoryFanout } from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { systemClock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import { createHttpMetrics } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { initTelemetry } from "@careforall/telemetry";
import { campaignSnapshot, createTestKeys } from "@careforall/testkit";
import { createGatewayApp, createSnapshotStore, hotCampaignRead } from "../apps/gateway/src/app";
import { testGatewayConfig, unreachableClients } from "../apps/gateway/test/offline-gateway";

type Mode = "off" | "on";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** One mode, in this process: the medians of `rounds` rounds, µs per read, written to stderr as JSON. */
async function child(mode: Mode, iterations: number, rounds: number): Promise<void> {
  let sink: ReturnType<typeof Bun.serve> | undefined;
  if (mode === "on") sink = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("{}") });
  const telemetry = initTelemetry({ service: "gateway", endpoint: sink ? `http://127.0.0.1:${sink.port}` : undefined });
  const log = createLogger({ service: "gateway", level: "info" });
  const metrics = createHttpMetrics("gateway");
  const snapshot: CampaignSnapshot = campaignSnapshot({ version: 1 });
  const snapshots = createSnapshotStore({
    cache: createMemoryCache(),
    origin: { fetch: async () => snapshot },
    clock: systemClock,
    log,
    metrics,
    localTtlMs: 3_600_000,
    redisTtlSeconds: 3_600,
  });
  const hot = hotCampaignRead({ snapshots, log, metrics });
  const keys = await createTestKeys();
  const app = createGatewayApp({
    clients: unreachableClients(),
    snapshots,
    limiter: createMemoryRateLimiter(),
    config: testGatewayConfig(keys.publicKeyPem),
    fanout: createMemoryFanout({ log }),
    log,
    metrics,
  });
  const url = `http://gateway.test/api/campaigns/${snapshot.id}`;
  const request = Object.assign(new Request(url), { params: { id: snapshot.id } });
  // Cold once: the snapshot is then held in memory, as on a busy gateway.
  const first = await hot(request);
  if (first.status !== 200) throw new Error(`the read answered ${first.status}`);

  const native = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = hot(request);
      if (res instanceof Promise) await res;
    }
  };
  const handled = async (n: number) => {
    for (let i = 0; i < n; i++) await app.handle(new Request(url));
  };
  const measure = async (run: (n: number) => Promise<void>, n: number) => {
    await run(Math.ceil(n / 10)); // warm-up
    const samples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const started = performance.now();
      await run(n);
      samples.push(((performance.now() - started) * 1000) / n);
    }
    return median(samples);
  };
  const nativeUs = await measure(native, iterations);
  const handleUs = await measure(handled, Math.ceil(iterations / 10));
  await telemetry.shutdown();
  sink?.stop(true);
  process.stderr.write(`${JSON.stringify({ mode, nativeUs, handleUs })}\n`);
}

async function main(): Promise<void> {
  const iterations = flag("iterations", 200_000);
  const rounds = flag("rounds", 5);
  const childAt = process.argv.indexOf("--child");
  if (childAt >= 0) return child(process.argv[childAt + 1] as Mode, iterations, rounds);
  const results: Array<{ mode: Mode; nativeUs: number; handleUs: number }> = [];
  for (const mode of ["off", "on"] as const) {
    const proc = Bun.spawn(
      ["bun", import.meta.path, "--child", mode, "--iterations", String(iterations), "--rounds", String(rounds)],
      { stdout: "ignore", stderr: "pipe", env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" } },
    );
    const err = await new Response(proc.stderr).text();
    if ((await proc.exited) !== 0) throw new Error(`${mode} run failed:\n${err}`);
    const line = err.trim().split("\n").at(-1) ?? "";
    results.push(JSON.parse(line));
  }
  console.log(`cached GET /api/campaigns/:id, µs per read (median of ${rounds} rounds of ${iterations} reads)`);
  console.log("spans recorded | native route (main.ts) | app.handle (httpKit)");
  for (const r of results)
    console.log(
      `${r.mode === "on" ? "yes (OTLP)    " : "no            "} | ${r.nativeUs.toFixed(3).padStart(22)} | ${r.handleUs.toFixed(2).padStart(20)}`,
    );
}

await main();
