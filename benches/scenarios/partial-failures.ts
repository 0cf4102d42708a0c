// partial-failures: a steady stream of guest donations and campaign reads while the servers under
// the platform go away one at a time and come back — Redis (SIGKILL, back empty), PostgreSQL
// (`pg_ctl stop -m immediate`), NATS (SIGKILL, store kept), then the bank process — each on a
// server of the scenario's own. Per phase: answers by status, latency p50/p99 of donations and
// reads, and after each restart the time until the platform works again without help; at the end
// the time to drain (every accepted pledge terminal) and the audit.
// `--duration` is each outage's length (default 10 s); the load is open (a fixed rate, not a fixed
// number of connections), so an outage shows as refusals, not as a slower client.
import { freePort } from "@careforall/http";
import {
  type KillableServer,
  type KillableStore,
  type PostgresStore,
  startNatsServer,
  startPostgresServer,
  startRedisServer,
} from "@careforall/testkit";
import { api, createCampaign, type Platform, registerUser, startPlatform } from "../lib/platform";
import { percentile } from "../lib/report";
import type { BenchOptions, LoadResult, ScenarioResult, TargetResult } from "../lib/types";

export const name = "partial-failures";
export const description =
  "donations and reads at a steady rate while Redis, PostgreSQL, NATS and the bank go away in turn: answers, latency and recovery per phase";

const DONATIONS_PER_SEC = 40;
const READS_PER_SEC = 200;
const GUESTS = 20;

interface Sample {
  /** When the request was sent: a request is counted in the phase it was sent in. */
  at: number;
  kind: "donate" | "read";
  status: number; // 0: no answer (refused, reset, timed out)
  ms: number;
}

interface Phase {
  name: string;
  startedAt: number;
  endedAt: number;
  /** Seconds from the restart until the platform worked again (null: not a recovery phase). */
  recoverySec: number | null;
}

function summarise(samples: Sample[], kind: Sample["kind"]) {
  const mine = samples.filter((s) => s.kind === kind);
  const ms = mine.map((s) => s.ms).sort((a, b) => a - b);
  const byStatus: Record<string, number> = {};
  for (const s of mine) byStatus[String(s.status)] = (byStatus[String(s.status)] ?? 0) + 1;
  return { count: mine.length, byStatus, p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");

export async function run(options: BenchOptions): Promise<ScenarioResult> {
  const { log, signal } = options;
  const outageSec = options.durationSec;
  const cleanupErrors: string[] = [];
  const servers: { redis?: KillableServer; pg?: PostgresStore; nats?: KillableStore } = {};
  let platform: Platform | undefined;
  const adminEmail = `bench-admin-${Date.now().toString(36)}@bench.test`;
  const adminPassword = `bench-${crypto.randomUUID()}`;
  try {
    const [redisPort, pgPort, natsPort] = [freePort(), freePort(), freePort()];
    log("starting a Redis, a PostgreSQL and a NATS of the scenario's own");
    [servers.redis, servers.pg, servers.nats] = await Promise.all([
      startRedisServer(redisPort),
      startPostgresServer(pgPort),
      startNatsServer(natsPort),
    ]);
    platform = await startPlatform({
      logLevel: options.logLevel,
      rateLimitsOff: ["AUTH", "DEMO_ACCOUNTS"],
      // Pledge limits stay on (so Redis' fallback is exercised), high enough for the load's one address.
      env: { RATE_LIMIT_PLEDGES: "1000000", ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: adminPassword },
      servers: {
        redisUrl: servers.redis.url,
        databaseServerUrl: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
        natsUrl: servers.nats.url,
      },
      log,
    });
    const gw = platform.gatewayUrl;
    const stack = platform.stack;
    const owner = await registerUser(gw, "partial-owner");
    const campaign = await createCampaign(gw, owner.accessToken, { title: "Partial failures" });
    const guests = await Promise.all(
      Array.from({ length: GUESTS }, async (_, i) => {
        const account = await api<{ bankAccountId: string; accountSecret: string }>(`${gw}/api/bank/demo-accounts`, {
          method: "POST",
          expect: 201,
        });
        return { email: `partial-guest-${i}-${Date.now().toString(36)}@bench.test`, ...account.body };
      }),
    );

    const samples: Sample[] = [];
    const accepted: string[] = [];
    let n = 0;
    const donate = async (): Promise<number> => {
      const g = guests[n++ % guests.length] as (typeof guests)[number];
      const sentAt = Date.now();
      const started = performance.now();
      const status = await fetch(`${gw}/api/campaigns/${campaign.id}/pledges`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() },
        body: JSON.stringify({
          amountMinor: 1_000,
          currency: "BDT",
          donor: { email: g.email, name: "Partial Guest" },
          source: { bankAccountId: g.bankAccountId, accountSecret: g.accountSecret },
        }),
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (r) => {
          if (r.status === 202) accepted.push(((await r.json()) as { id: string }).id);
          else await r.arrayBuffer();
          return r.status;
        })
        .catch(() => 0);
      samples.push({ at: sentAt, kind: "donate", status, ms: performance.now() - started });
      return status;
    };
    const read = async () => {
      const sentAt = Date.now();
      const started = performance.now();
      const status = await fetch(`${gw}/api/campaigns/${campaign.id}`, { signal: AbortSignal.timeout(10_000) })
        .then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        })
        .catch(() => 0);
      samples.push({ at: sentAt, kind: "read", status, ms: performance.now() - started });
    };

    // The campaign must reach pledge's read model, and every guest's grant the cache, before the clock starts.
    log("warming up: one accepted donation per guest");
    for (let i = 0; i < GUESTS; i++) {
      const deadline = Date.now() + 20_000;
      while ((await donate()) !== 202) {
        if (Date.now() > deadline) throw new Error("the platform did not accept donations within 20 s");
        await Bun.sleep(200);
      }
    }
    samples.length = 0;

    // Open-loop load: a fixed rate of each kind, whatever the answers take.
    let loading = true;
    const inflight = new Set<Promise<unknown>>();
    const pace = async (perSec: number, fire: () => Promise<unknown>) => {
      const interval = 1000 / perSec;
      let next = performance.now();
      while (loading) {
        const p = fire().finally(() => inflight.delete(p));
        inflight.add(p);
        next += interval;
        const wait = next - performance.now();
        if (wait > 0) await Bun.sleep(wait);
      }
    };
    const loaders = [pace(DONATIONS_PER_SEC, donate), pace(READS_PER_SEC, read)];

    const phases: Phase[] = [];
    const phase = async (label: string, seconds: number) => {
      signal.throwIfAborted();
      const startedAt = Date.now();
      log(`phase: ${label} (${seconds}s)`);
      await Bun.sleep(seconds * 1000);
      phases.push({ name: label, startedAt, endedAt: Date.now(), recoverySec: null });
    };
    /** After a restart: the phase lasts until `works()` says the platform is whole again (≤ 60 s). */
    const recovery = async (label: string, works: () => Promise<boolean>) => {
      const startedAt = Date.now();
      log(`phase: ${label}`);
      let recoverySec: number | null = null;
      while (Date.now() - startedAt < 60_000) {
        signal.throwIfAborted();
        if (await works().catch(() => false)) {
          recoverySec = (Date.now() - startedAt) / 1000;
          break;
        }
        await Bun.sleep(50);
      }
      log(
        `  ${label}: ${recoverySec === null ? "not recovered within 60 s" : `recovered after ${recoverySec.toFixed(1)} s`}`,
      );
      phases.push({ name: label, startedAt, endedAt: Date.now(), recoverySec });
    };
    const lastDonationOk = (since: number) =>
      samples.some((s) => s.kind === "donate" && s.at > since && s.status === 202);
    /** One gauge of a service's /metrics (every series carries its default label: `name{service="x"} 0`). */
    const gaugeAt = async (base: string | undefined, metric: string) => {
      const text = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text());
      return Number(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    };
    const gauge = (metric: string) => gaugeAt(gw, metric);
    const pledgeGauge = (metric: string) => gaugeAt(platform?.urls.pledge, metric);
    const readyCheck = async (dep: string) =>
      (
        (await (await fetch(`${gw}/ready`, { signal: AbortSignal.timeout(3000) })).json()) as {
          checks: Record<string, string>;
        }
      ).checks[dep] === "up";

    await phase("steady", outageSec);
    await servers.redis.kill();
    await phase("redis down", outageSec);
    await servers.redis.start();
    await recovery("redis back", async () => (await gauge("careforall_gateway_redis_degraded")) === 0);
    await servers.pg.kill();
    await phase("postgres down", outageSec);
    await servers.pg.start();
    const pgBack = Date.now();
    await recovery("postgres back", async () => lastDonationOk(pgBack));
    // Hung, not gone: every PostgreSQL process stopped, its connections left open.
    servers.pg.pause();
    await phase("postgres hung", outageSec);
    servers.pg.resume();
    const pgResumed = Date.now();
    await recovery("postgres answers", async () => lastDonationOk(pgResumed));
    await servers.nats.kill();
    await phase("nats down", outageSec);
    const backlog = await pledgeGauge("careforall_outbox_pending_events").catch(() => Number.NaN);
    await servers.nats.start();
    const natsBack = Date.now();
    await recovery("nats back", () => readyCheck("nats"));
    // The relay's backlog (pledge's outbox) drains in order, new events behind it: its drain time
    // is the longest a new event waited.
    let backlogDrainSec: number | null = null;
    while (Date.now() - natsBack < 60_000) {
      if ((await pledgeGauge("careforall_outbox_pending_events").catch(() => Number.NaN)) === 0) {
        backlogDrainSec = (Date.now() - natsBack) / 1000;
        break;
      }
      await Bun.sleep(50);
    }
    log(`  nats backlog: ${backlog} events in pledge's outbox, drained ${backlogDrainSec ?? "-"} s after the restart`);
    await stack.kill("bank");
    await phase("bank down", outageSec);
    await stack.restart("bank");
    await recovery("bank back", () => readyCheck("bank"));
    await phase("steady again", outageSec);
    loading = false;
    await Promise.all(loaders);
    await Promise.all(inflight);

    // Drain: until no pledge is pending or authorized (the pledge service's own gauge).
    const loadEnded = Date.now();
    log(`load done: ${accepted.length} accepted; draining`);
    const open = async () => {
      const text = await fetch(`${platform?.urls.pledge}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) =>
        r.text(),
      );
      let count = 0;
      for (const m of text.matchAll(/^careforall_pledges_by_status\{[^}]*status="(pending|authorized)"[^}]*\} (\d+)/gm))
        count += Number(m[2]);
      return count;
    };
    let drainSec: number | null = null;
    while (Date.now() - loadEnded < 180_000) {
      signal.throwIfAborted();
      if ((await open().catch(() => -1)) === 0) {
        drainSec = (Date.now() - loadEnded) / 1000;
        break;
      }
      await Bun.sleep(250);
    }
    const session = await api<{ accessToken: string }>(`${gw}/api/auth/login`, {
      method: "POST",
      body: { email: adminEmail, password: adminPassword },
    });
    // Campaign totals follow the captures through the bus: the audit is read until it balances.
    const runAudit = async () =>
      (
        await api<{ totalDriftMinor: number; stuckPledges: number }>(`${gw}/api/admin/audit`, {
          token: session.body.accessToken,
        })
      ).body;
    let audit = await runAudit();
    let balancedSec: number | null = audit.totalDriftMinor === 0 ? (Date.now() - loadEnded) / 1000 : null;
    while (balancedSec === null && Date.now() - loadEnded < 240_000) {
      signal.throwIfAborted();
      await Bun.sleep(500);
      audit = await runAudit();
      if (audit.totalDriftMinor === 0) balancedSec = (Date.now() - loadEnded) / 1000;
    }

    // ── report ──
    const rows = phases.map((p) => {
      const inPhase = samples.filter((s) => s.at >= p.startedAt && s.at < p.endedAt);
      return { phase: p, donate: summarise(inPhase, "donate"), read: summarise(inPhase, "read") };
    });
    const statusText = (byStatus: Record<string, number>) =>
      Object.entries(byStatus)
        .sort()
        .map(([k, v]) => `${k === "0" ? "none" : k}:${v}`)
        .join(" ");
    const header = [
      "phase",
      "secs",
      "donations by status",
      "don p50 ms",
      "don p99 ms",
      "reads by status",
      "read p50 ms",
      "read p99 ms",
      "recovered after",
    ];
    const table = rows.map((r) => [
      r.phase.name,
      ((r.phase.endedAt - r.phase.startedAt) / 1000).toFixed(1),
      statusText(r.donate.byStatus),
      fmt(r.donate.p50),
      fmt(r.donate.p99),
      statusText(r.read.byStatus),
      fmt(r.read.p50),
      fmt(r.read.p99),
      r.phase.recoverySec === null ? "" : `${r.phase.recoverySec.toFixed(1)} s`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
    const fivexx = samples.filter((s) => s.status >= 500 && s.status !== 503).length;
    const readFailures = samples.filter((s) => s.kind === "read" && s.status !== 200).length;
    const report = [
      `open load: ${DONATIONS_PER_SEC} donations/s and ${READS_PER_SEC} reads/s; each outage ${outageSec} s; "none" = no answer within 10 s`,
      line(header),
      line(widths.map((w) => "-".repeat(w))),
      ...table.map(line),
      "",
      `nats backlog: ${backlog} events waiting in pledge's outbox at the restart, all published ${
        backlogDrainSec === null ? "NOT within 60 s" : `${backlogDrainSec.toFixed(1)} s after it`
      } (new events queue behind them: the longest any waited)`,
      `drain: every accepted pledge terminal ${drainSec === null ? "NOT within 180 s" : `${drainSec.toFixed(1)} s after the load`} (${accepted.length} accepted)`,
      `audit: totalDriftMinor ${audit.totalDriftMinor}, stuckPledges ${audit.stuckPledges}` +
        (balancedSec === null
          ? " (never balanced within 240 s)"
          : `, balanced ${balancedSec.toFixed(1)} s after the load`),
    ];
    const asLoad = (r: (typeof rows)[number]): LoadResult => {
      const secs = (r.phase.endedAt - r.phase.startedAt) / 1000;
      return {
        requestsPerSec: r.donate.count / secs,
        p50Ms: r.donate.p50,
        p99Ms: r.donate.p99,
        errors: r.donate.count - (r.donate.byStatus["202"] ?? 0),
        requests: r.donate.count,
        tool: "bun",
        durationSec: secs,
        errorDetail: r.donate.byStatus,
      };
    };
    const targets: TargetResult[] = rows.map((r, i) => ({
      name: r.phase.name,
      request: `POST /api/campaigns/:id/pledges during "${r.phase.name}"`,
      url: `${gw}/api/campaigns/${campaign.id}/pledges`,
      baseline: i === 0,
      rounds: [asLoad(r)],
    }));
    return {
      targets,
      verdicts: [
        { description: "no 5xx other than 503", pass: fivexx === 0 },
        { description: "reads never fail", pass: readFailures === 0 },
        {
          description: "every restart recovered by itself within 60 s",
          pass: phases.every((p) => p.recoverySec !== null || !p.name.endsWith("back")),
        },
        { description: "every accepted pledge terminal within 180 s", pass: drainSec !== null },
        {
          description: "audit drift 0 and no stuck pledge",
          pass: audit.totalDriftMinor === 0 && audit.stuckPledges === 0,
        },
      ],
      report,
      details: {
        phases: rows.map((r) => ({
          phase: r.phase.name,
          seconds: (r.phase.endedAt - r.phase.startedAt) / 1000,
          recoverySec: r.phase.recoverySec,
          donations: r.donate,
          reads: r.read,
        })),
        accepted: accepted.length,
        drainSec,
        audit,
        auditBalancedSec: balancedSec,
      },
      cleanupErrors,
    };
  } finally {
    if (platform) cleanupErrors.push(...(await platform.teardown()));
    await Promise.all([servers.redis?.kill(), servers.pg?.destroy(), servers.nats?.destroy()]).catch((err) =>
      cleanupErrors.push(`stop servers: ${String(err)}`),
    );
  }
}
