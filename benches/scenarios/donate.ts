// donate: the money path under write load. Guests (and a few signed-in donors) POST pledges with a
// unique Idempotency-Key each through the gateway for the duration; then the harness waits until
// every pledge is terminal and reads their histories. Figures: accepted pledges/s (202 answers /
// load duration), fully captured donations/s (captured pledges / time from load start to the last
// `captured` history entry), accept→captured latency p50/p99 (captured.at − createdAt), and the
// money audit (totalDriftMinor must be 0). Per-service CPU over the load says what limits it.
// Measured in the same run with the same requests: a bare durable accept (Bun.serve + postgres.js,
// one transaction per pledge) as the reference for accepted/s; PostgreSQL's own counters give
// commits (and, when pg_stat_statements is preloaded, statements) per donation.
// One load run: --rounds does not apply (the settle phase dominates a run).
// `--profile embedded` runs the same load against the embedded platform (every service in one
// process on PGlite); the bare durable accept stays on this machine's PostgreSQL (the same reference
// as for servers), and PostgreSQL's counters, which PGlite in another process cannot give, are n/a.
import { cpus, loadavg } from "node:os";
import { createTestDatabase, type TestDatabase } from "@careforall/db";
import { TEST_DATABASE_URL, waitFor } from "@careforall/testkit";
import postgres from "postgres";
import { PIPELINE_SERVICES } from "../../scripts/stack";
import { barePoolSize, startBareAccept } from "../lib/bare-accept";
import { type CpuRow, CpuSampler, type CpuWindow } from "../lib/cpu";
import { type EmbeddedBenchPlatform, startEmbeddedBench } from "../lib/embedded";
import {
  allPublished,
  type DbCounters,
  type DbDelta,
  dbDelta,
  openStatements,
  readDbCounters,
  type StatementDelta,
  type Statements,
  shortQuery,
  statementDelta,
} from "../lib/pg-counters";
import { api, createCampaign, type Platform, registerUser, type Session, startPlatform } from "../lib/platform";
import { type GuestDonor, type PledgeLoadOptions, type PledgeLoadResult, runPledgeLoad } from "../lib/pledge-load";
import { type RouteDelta, scrapeTimings, timingDelta } from "../lib/prom";
import { fixed, percentile } from "../lib/report";
import type { BenchOptions, LoadResult, Profile, ScenarioResult, TargetResult } from "../lib/types";

export const name = "donate";
export const description =
  "POST /api/campaigns/:id/pledges (unique Idempotency-Keys, guests + signed-in) → accepted/s, captured/s, drift";

export const profiles: readonly Profile[] = ["servers", "embedded"];

const CAMPAIGNS = 20;
const GUESTS = 200;
const USERS = 5;
/** Every USER_EVERY-th request is a signed-in donor's (they pay from their own account). */
const USER_EVERY = 10;
const TARGET_ACCEPTED_PER_SEC = 1000;
/** Platform accepted/s ÷ the bare durable accept's, same requests, same run. */
const TARGET_RATIO = 0.35;
const TARGET_HTTP_P99_MS = 100;
const TARGET_CAPTURED_PER_SEC = 300;
/** CPU of the services and the bench db backends, load start → settled, per donation. */
const TARGET_STACK_CPU_MS = 6;
/** pg_stat_database xact_commit, load start → settled, per donation. */
const TARGET_COMMITS = 6;
const OPEN_STATUSES = ["pending", "authorized"] as const;

interface Pledge {
  id: string;
  campaignId: string;
  donorId: string | null;
  amountMinor: number;
  status: string;
  failureReason: string | null;
  createdAt: string;
  history: Array<{ status: string; at: string }>;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface Audit {
  campaigns: Array<{
    campaignId: string;
    raisedMinor: number;
    capturedMinusRefundedMinor: number;
    bankBalanceMinor: number;
    driftMinor: number;
  }>;
  totalDriftMinor: number;
  stuckPledges: number;
  checkedAt: string;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/** Columns padded to their widest cell; `numeric` columns right-aligned. */
function table(header: string[], rows: string[][], numeric: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

function count<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** What the scenario needs from the platform it measures, whichever its profile. */
interface Measured {
  gatewayUrl: string;
  /** Service → base URL whose /metrics give the server-time table (embedded: the gateway only listens). */
  metricsUrls: Record<string, string>;
  /** The pledge service's base URL (its careforall_pledges_by_status gauge, progress only); null when it has no socket. */
  pledgeUrl: string | null;
  /** Name → pid of the platform's processes (embedded: one process for every service and PGlite). */
  processes: Record<string, number>;
  /** The PostgreSQL database the platform writes (its counters); null on PGlite (embedded). */
  database: { name: string; url: string } | null;
  /** Where the bare durable accept writes. */
  bareDatabaseUrl: string;
  /** The pipeline-only processes BENCH_DONATE_HOLD_PIPELINE stops (none when they share the gateway's process). */
  pipeline(): Array<{ kill(signal: NodeJS.Signals): void }>;
  /** Stops the platform (after the audit; teardown would next). */
  stop(): Promise<void>;
  settings: Record<string, string>;
  details: Record<string, unknown>;
}

function servers(platform: Platform): Measured {
  return {
    gatewayUrl: platform.gatewayUrl,
    metricsUrls: platform.urls,
    pledgeUrl: platform.urls.pledge,
    processes: Object.fromEntries([...platform.stack.services].map(([n, s]) => [n, s.proc.pid])),
    database: { name: platform.database, url: platform.databaseUrl },
    bareDatabaseUrl: platform.databaseUrl,
    pipeline: () => pipelineProcesses(platform),
    stop: () => platform.stack.stop(),
    settings: platform.settings,
    details: { database: platform.database, redisPrefix: platform.redisPrefix, busPrefix: platform.busPrefix },
  };
}

function embeddedTarget(platform: EmbeddedBenchPlatform, bareDb: TestDatabase): Measured {
  return {
    gatewayUrl: platform.gatewayUrl,
    metricsUrls: { gateway: platform.gatewayUrl },
    pledgeUrl: null,
    processes: { "embedded platform (every service + PGlite)": platform.pid },
    database: null,
    bareDatabaseUrl: bareDb.url,
    pipeline: () => [],
    stop: () => platform.stop(),
    settings: platform.settings,
    details: { embedded: { pid: platform.pid, dataDir: platform.dataDir }, bareDatabase: bareDb.name },
  };
}

export async function run(options: BenchOptions): Promise<ScenarioResult> {
  const { log, signal } = options;
  let platform: Platform | undefined;
  let embedded: EmbeddedBenchPlatform | undefined;
  let bareDb: TestDatabase | undefined;
  let sampler: CpuSampler | undefined;
  let monitor: postgres.Sql | undefined;
  let statements: Statements | undefined;
  const cleanupErrors: string[] = [];
  let failed = false;
  const adminEmail = `bench-admin-${Date.now().toString(36)}@bench.test`;
  const adminPassword = `bench-${crypto.randomUUID()}`;
  const client: "wrk" | "bun" = process.env.BENCH_DONATE_CLIENT === "bun" || !Bun.which("wrk") ? "bun" : "wrk";
  const pipelineHeld = process.env.BENCH_DONATE_HOLD_PIPELINE === "1";

  try {
    // As `./cfa start` runs it, minus the rate limits the load (pledges) and the set-up (200 demo
    // accounts, registrations and admin logins from one address) would hit.
    let under: Measured;
    if (options.profile === "embedded") {
      embedded = await startEmbeddedBench({
        log,
        logLevel: options.logLevel,
        env: {
          RATE_LIMIT_PLEDGES: "0",
          RATE_LIMIT_DEMO_ACCOUNTS: "0",
          RATE_LIMIT_AUTH: "0",
          ADMIN_EMAIL: adminEmail,
          ADMIN_PASSWORD: adminPassword,
        },
      });
      // The bare durable accept is the same reference as for servers: Bun + this machine's PostgreSQL.
      bareDb = await createTestDatabase("bench_bare");
      under = embeddedTarget(embedded, bareDb);
    } else {
      platform = await startPlatform({
        log,
        logLevel: options.logLevel,
        rateLimitsOff: ["PLEDGES", "DEMO_ACCOUNTS", "AUTH"],
        env: { ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: adminPassword },
      });
      under = servers(platform);
    }
    const gw = under.gatewayUrl;
    signal.throwIfAborted();

    // ── set-up through the gateway ────────────────────────────────────────────────────────────
    const owner = await registerUser(gw, "owner");
    const campaignIds = await mapLimited(Array.from({ length: CAMPAIGNS }), 4, async (_, i) => {
      const c = await createCampaign(gw, owner.accessToken, {
        title: `Benchmark campaign ${i + 1}`,
        goalMinor: 100_000_000,
      });
      return c.id;
    });
    log(`${campaignIds.length} campaigns created`);
    const guests = await mapLimited(Array.from({ length: GUESTS }), 8, async (_, i): Promise<GuestDonor> => {
      const acct = await api<{ bankAccountId: string; accountSecret: string }>(`${gw}/api/bank/demo-accounts`, {
        method: "POST",
        expect: 201,
      });
      return {
        email: `guest-${i + 1}@bench.test`,
        name: `Bench Guest ${i + 1}`,
        bankAccountId: acct.body.bankAccountId,
        accountSecret: acct.body.accountSecret,
      };
    });
    log(`${guests.length} guest demo accounts opened`);
    const users: Session[] = await mapLimited(Array.from({ length: USERS }), 2, () => registerUser(gw, "donor"));
    for (const u of users) {
      // The bank opens a registered user's account from user.registered, a moment later.
      await waitFor(
        async () =>
          (
            await fetch(`${gw}/api/me/bank`, {
              headers: { authorization: `Bearer ${u.accessToken}` },
              signal: AbortSignal.timeout(5000),
            })
          ).ok,
        { timeoutMs: 30_000, intervalMs: 100, what: `the bank account of ${u.user.email}` },
      );
    }
    log(`${users.length} signed-in donors with bank accounts`);

    const adminToken = async () =>
      (
        await api<Session>(`${gw}/api/auth/login`, {
          method: "POST",
          body: { email: adminEmail, password: adminPassword },
        })
      ).body.accessToken;
    let admin = await adminToken();

    /** Admin list requests and status-gauge reads the harness has made (they cost the platform commits too). */
    let adminRequests = 0;
    const listPage = (query: string) => {
      adminRequests++;
      return api<Page<Pledge>>(`${gw}/api/admin/pledges?${query}`, { token: admin });
    };
    const openCount = async () => {
      let open = 0;
      for (const status of OPEN_STATUSES) open += (await listPage(`status=${status}&limit=1`)).body.items.length;
      return open;
    };
    /** Pledges by status from the pledge service's own gauge (progress only; one SQL count). */
    const statusGauge = async (): Promise<Record<string, number>> => {
      if (!under.pledgeUrl) return {};
      adminRequests++;
      const text = await fetch(`${under.pledgeUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.text())
        .catch(() => "");
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^careforall_pledges_by_status\{([^}]*)\} (\d+)/gm)) {
        const status = /status="(\w+)"/.exec(m[1] as string)?.[1];
        if (status && Number(m[2]) > 0) out[status] = Number(m[2]);
      }
      return out;
    };
    /** Waits until no pledge is pending or authorized; returns false at the deadline. */
    const settle = async (deadlineMs: number, label: string) => {
      let lastLog = Date.now();
      for (;;) {
        signal.throwIfAborted();
        // A 503 (a service shedding load or behind its breaker on a saturated machine) is "not yet":
        // the platform is asked again until the deadline instead of aborting the whole run.
        const open = await openCount().catch((err: unknown) => {
          if (!/answered 503/.test(String(err))) throw err;
          log(`${label}: the admin list answered 503; asking again`);
          return Number.NaN;
        });
        if (open === 0) return true;
        if (Date.now() > deadlineMs) return false;
        if (Date.now() - lastLog >= 5000) {
          lastLog = Date.now();
          log(
            `${label}: ${under.pledgeUrl ? JSON.stringify(await statusGauge()) : "pending or authorized pledges left"}`,
          );
        }
        await Bun.sleep(200);
      }
    };

    // ── readiness: the pledge service and the bank both learn campaigns from campaign.created ──
    // One pledge per campaign (and per signed-in donor) must go all the way to captured first.
    const probe = async (campaignId: string, n: number, user?: Session) => {
      const g = guests[n % guests.length] as GuestDonor;
      const body = user
        ? { amountMinor: 100, currency: "BDT" }
        : {
            amountMinor: 100,
            currency: "BDT",
            donor: { email: g.email, name: g.name },
            source: { bankAccountId: g.bankAccountId, accountSecret: g.accountSecret },
          };
      return waitFor(
        async () => {
          const res = await fetch(`${gw}/api/campaigns/${campaignId}/pledges`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "idempotency-key": `probe-${crypto.randomUUID()}`,
              ...(user ? { authorization: `Bearer ${user.accessToken}` } : {}),
            },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          // 404: the pledge service has not seen campaign.created yet; 409: account still opening.
          if (res.status === 404 || res.status === 409) return null;
          if (res.status !== 202) throw new Error(`probe pledge answered ${res.status}: ${text.slice(0, 300)}`);
          return (JSON.parse(text) as Pledge).id;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `campaign ${campaignId} to accept pledges` },
      );
    };
    const probeDeadline = Date.now() + 60_000;
    let pending = campaignIds.map((id, i) => ({ id, user: undefined as Session | undefined, n: i }));
    pending.push(...users.map((u, i) => ({ id: campaignIds[i % campaignIds.length] as string, user: u, n: i })));
    while (pending.length > 0) {
      const ids = await mapLimited(pending, 4, (p) => probe(p.id, p.n, p.user));
      if (!(await settle(probeDeadline, "probe pledges"))) throw new Error("probe pledges did not settle in 60 s");
      const results = await mapLimited(ids, 8, async (id) => {
        const p = await api<Pledge>(`${gw}/api/pledges/${id}`, { token: admin });
        return p.body;
      });
      // A campaign the bank has not opened an account for yet fails its probe (unknown_campaign): try again.
      const missed = results.filter((p) => p.status !== "captured");
      for (const p of missed) log(`probe pledge ${p.id}: ${p.status} (${p.failureReason})`);
      if (missed.length > 0 && Date.now() > probeDeadline) {
        throw new Error(
          `probe pledges did not capture: ${missed.map((p) => `${p.status} (${p.failureReason})`).join(", ")}`,
        );
      }
      pending = pending.filter((_, i) => results[i]?.status !== "captured");
      if (pending.length > 0) await Bun.sleep(500);
    }
    log(`every campaign and donor captured a probe pledge: ready`);

    const load = {
      baseUrl: gw,
      campaignIds,
      guests,
      userTokens: users.map((u) => u.accessToken),
      userEvery: USER_EVERY,
      connections: options.connections,
      threads: options.threads,
      client,
      signal,
    };
    const settleBudgetMs = Math.max(120, 4 * options.durationSec) * 1000;
    const database = under.database?.name ?? null;
    monitor = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    if (under.database) {
      statements = await openStatements(under.database.url);
      log(`pg_stat_statements: ${statements.available ? "available" : `n/a (${statements.reason})`}`);
    }

    // ── the bare durable accept: same requests, same connections, same duration, first ─────────
    const bare = await measureBare(options, load, under.bareDatabaseUrl, monitor);

    // ── warm-up: same load, unrecorded, then drained so the measured run starts from empty queues ──
    if (options.warmupSec > 0) {
      log(`warm-up: ${options.warmupSec}s`);
      const warm = await runPledgeLoad({
        ...load,
        keyPrefix: `w${Date.now().toString(36)}`,
        durationSec: options.warmupSec,
      });
      log(`warm-up: ${warm.statuses["202"] ?? 0} accepted, statuses ${JSON.stringify(warm.statuses)}; draining`);
      await Bun.sleep(500);
      if (!(await settle(Date.now() + settleBudgetMs, "warm-up drain"))) {
        throw new Error(`warm-up pledges did not settle within ${settleBudgetMs / 1000} s`);
      }
    }

    // ── measured load, with CPU sampling and PostgreSQL's counters ─────────────────────────────
    const services = under.processes;
    sampler = new CpuSampler({
      processes: { ...services, "bench harness": process.pid },
      ...(database ? { pg: { sql: monitor, database } } : {}),
      intervalMs: 500,
    });
    sampler.start();
    const timingsBefore = await scrapeTimings(under.metricsUrls);
    // Read right after the warm-up drain, while every connection has just written (see lib/pg-counters.ts).
    const counters = (sql: postgres.Sql) => (database ? readDbCounters(sql, database) : Promise.resolve(null));
    const dbAtStart = await counters(monitor);
    const statementsAtStart = statements?.available ? await statements.snapshot() : null;
    const adminRequestsAtStart = adminRequests;
    // Diagnostic: BENCH_DONATE_HOLD_PIPELINE=1 stops the pipeline-only services (SIGSTOP) for the
    // load window, so the load measures the accept path alone; the pipeline drains afterwards.
    const held = pipelineHeld ? under.pipeline() : [];
    if (pipelineHeld && held.length === 0)
      log("BENCH_DONATE_HOLD_PIPELINE: n/a here (the pipeline shares one process)");
    for (const proc of held) proc.kill("SIGSTOP");
    if (held.length > 0) log(`pipeline held for the load (${[...PIPELINE_SERVICES].join(", ")} stopped)`);
    let result: PledgeLoadResult;
    let loadAverageAtStart: number[];
    try {
      await sampler.mark("load-start");
      loadAverageAtStart = loadavg();
      log(`load: ${options.durationSec}s, ${options.connections} connections, ${client}`);
      result = await runPledgeLoad({
        ...load,
        keyPrefix: `m${Date.now().toString(36)}`,
        durationSec: options.durationSec,
      });
      await sampler.mark("load-end");
    } finally {
      // Resumed whatever happened, so the settle phase or the teardown finds them running.
      for (const proc of held) proc.kill("SIGCONT");
    }
    const dbAtLoadEnd = await counters(monitor);
    const statementsAtLoadEnd = statements?.available ? await statements.snapshot() : null;
    const serverTime = timingDelta(timingsBefore, await scrapeTimings(under.metricsUrls));
    const accepted = result.statuses["202"] ?? 0;
    const errorsByStatus = Object.fromEntries(Object.entries(result.statuses).filter(([s]) => s !== "202"));
    const errors =
      Object.values(errorsByStatus).reduce((n, v) => n + v, 0) +
      Object.values(result.socketErrors).reduce((n, v) => n + v, 0);
    const acceptedPerSec = result.durationSec > 0 ? accepted / result.durationSec : 0;
    log(
      `load: ${accepted} accepted (${acceptedPerSec.toFixed(0)}/s), statuses ${JSON.stringify(result.statuses)}` +
        `${errors > 0 ? `, socket errors ${JSON.stringify(result.socketErrors)}` : ""}`,
    );
    for (const [status, body] of Object.entries(result.samples)) log(`sample ${status} answer: ${body}`);

    // ── settle: every pledge terminal ───────────────────────────────────────────────────────────
    admin = await adminToken();
    const settleStarted = Date.now();
    // Requests the generator cut off at the end may still be creating pledges for a moment.
    await Bun.sleep(500);
    const settled = await settle(settleStarted + settleBudgetMs, "settling");
    await sampler.mark("settled");
    await sampler.stop();
    const settleSec = (Date.now() - settleStarted) / 1000;
    const dbAtSettled = await counters(monitor);
    const statementsAtSettled = statements?.available ? await statements.snapshot() : null;
    const adminRequestsWhileMeasured = adminRequests - adminRequestsAtStart;
    log(settled ? `settled ${settleSec.toFixed(1)}s after the load` : `NOT settled after ${settleSec.toFixed(0)}s`);

    // ── every pledge with its history ───────────────────────────────────────────────────────────
    admin = await adminToken();
    const all: Pledge[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<Pledge> = (await listPage(`limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`))
        .body;
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    // Probe and warm-up pledges all settled before the load started.
    const measured = all.filter((p) => Date.parse(p.createdAt) >= result.startedAt);
    const byStatus = count(measured, (p) => p.status);
    const failureReasons = count(
      measured.filter((p) => p.status === "failed"),
      (p) => p.failureReason ?? "unknown",
    );
    const captured = measured
      .filter((p) => p.status === "captured")
      .map((p) => {
        const at = p.history.find((h) => h.status === "captured")?.at;
        if (!at) throw new Error(`captured pledge ${p.id} has no captured entry in its history`);
        return {
          capturedAt: Date.parse(at),
          latencyMs: Date.parse(at) - Date.parse(p.createdAt),
          amount: p.amountMinor,
        };
      });
    const lastCapture = Math.max(...captured.map((c) => c.capturedAt));
    const captureWindowSec = captured.length > 0 ? (lastCapture - result.startedAt) / 1000 : Number.NaN;
    const capturedPerSec = captured.length > 0 && captureWindowSec > 0 ? captured.length / captureWindowSec : 0;
    const latencies = captured.map((c) => c.latencyMs).sort((a, b) => a - b);
    const latency = { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1) };
    const signedIn = measured.filter((p) => p.donorId !== null).length;
    // Each 202 is a committed pledge; requests in flight when the generator stops may add up to one per connection.
    const unanswered = measured.length - accepted;

    // ── the audit: campaign totals follow pledge.captured events, so give them a moment to converge ──
    const auditStarted = Date.now();
    const audits: Audit[] = [];
    for (;;) {
      audits.push((await api<Audit>(`${gw}/api/admin/audit`, { token: admin })).body);
      const last = audits.at(-1) as Audit;
      if (last.totalDriftMinor === 0 || Date.now() - auditStarted > 30_000) break;
      await Bun.sleep(500);
    }
    const audit = audits.at(-1) as Audit;
    const auditSum = audit.campaigns.reduce((n, c) => n + c.capturedMinusRefundedMinor, 0);
    const driftOk = audit.totalDriftMinor === 0;

    // ── lag check: what the counters had not published yet, seen once the services stop ───────
    // Nothing needs the services any more; teardown would stop them next anyway.
    const dbBeforeStop = await counters(monitor);
    await under.stop();
    const complete = database ? await allPublished(monitor, database) : false;
    const dbAfterStop = await counters(monitor);

    // ── CPU: who worked during the load ─────────────────────────────────────────────────────────
    const loadCpu = sampler.window("load-start", "load-end");
    const settleCpu = sampler.window("load-end", "settled");
    const wholeCpu = sampler.window("load-start", "settled");
    const serviceNames = new Set(Object.keys(services));
    const platformRows = loadCpu.rows.filter((r) => serviceNames.has(r.name) || r.name.includes("bench db"));
    const bottleneck = platformRows[0];
    const limit = whatLimits(loadCpu, wholeCpu, platformRows, serviceNames, measured.length);

    // ── PostgreSQL's own counters ───────────────────────────────────────────────────────────────
    // PGlite lives in the embedded platform's process: no pg_stat_database for the harness to read.
    const db =
      dbAtStart && dbAtLoadEnd && dbAtSettled && dbBeforeStop && dbAfterStop
        ? databaseFigures({
            created: measured.length,
            whole: dbDelta(dbAtStart, dbAtSettled),
            loadWindow: dbDelta(dbAtStart, dbAtLoadEnd),
            lag: { before: dbBeforeStop, after: dbAfterStop, complete },
            adminRequests: adminRequestsWhileMeasured,
          })
        : null;
    const statementFigures =
      statementsAtStart && statementsAtLoadEnd && statementsAtSettled
        ? {
            whole: statementDelta(statementsAtStart, statementsAtSettled),
            loadWindow: statementDelta(statementsAtStart, statementsAtLoadEnd),
          }
        : null;

    // ── targets ─────────────────────────────────────────────────────────────────────────────────
    const ratio = bare.acceptedPerSec > 0 ? acceptedPerSec / bare.acceptedPerSec : Number.NaN;
    const stackCpuMs = limit.stackCpuMsPerDonation ?? Number.NaN;
    const goals = [
      {
        what: `accepted >= ${TARGET_ACCEPTED_PER_SEC}/s`,
        got: fixed(acceptedPerSec, 0),
        met: acceptedPerSec >= TARGET_ACCEPTED_PER_SEC,
      },
      { what: `ratio to bare >= ${TARGET_RATIO}`, got: fixed(ratio, 2), met: ratio >= TARGET_RATIO },
      {
        what: `HTTP 202 p99 <= ${TARGET_HTTP_P99_MS} ms`,
        got: fixed(result.p99Ms, 1),
        met: result.p99Ms <= TARGET_HTTP_P99_MS,
      },
      {
        what: `captured >= ${TARGET_CAPTURED_PER_SEC}/s`,
        got: fixed(capturedPerSec, 0),
        met: capturedPerSec >= TARGET_CAPTURED_PER_SEC,
      },
      {
        what: `stack CPU <= ${TARGET_STACK_CPU_MS} ms/donation`,
        got: fixed(stackCpuMs, 1),
        met: stackCpuMs <= TARGET_STACK_CPU_MS,
      },
      ...(db
        ? [
            {
              what: `commits <= ${TARGET_COMMITS}/donation`,
              got: fixed(db.commitsPerDonation, 2),
              met: db.commitsPerDonation <= TARGET_COMMITS,
            },
          ]
        : []),
    ];

    // ── report ──────────────────────────────────────────────────────────────────────────────────
    const lines: string[] = [];
    lines.push(
      ...table(
        [
          "target",
          "profile",
          "accepted/s",
          "ratio",
          "202 p50 ms",
          "202 p99 ms",
          "captured/s",
          "captured p50 ms",
          "captured p99 ms",
          "commits/donation",
          "errors",
          "drift",
        ],
        [
          [
            "bare",
            "-",
            fixed(bare.acceptedPerSec, 0),
            "1.00",
            fixed(bare.result.p50Ms, 1),
            fixed(bare.result.p99Ms, 1),
            "-",
            "-",
            "-",
            "-",
            String(bare.errors),
            "-",
          ],
          [
            "gateway",
            options.profile,
            fixed(acceptedPerSec, 0),
            fixed(ratio, 2),
            fixed(result.p50Ms, 1),
            fixed(result.p99Ms, 1),
            fixed(capturedPerSec, 0),
            fixed(latency.p50Ms, 0),
            fixed(latency.p99Ms, 0),
            db ? fixed(db.commitsPerDonation, 2) : "n/a",
            String(errors),
            `${audit.totalDriftMinor} ${driftOk ? "PASS" : "FAIL"}`,
          ],
        ],
        new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]),
      ),
    );
    lines.push(
      `${result.tool}, ${options.connections} connections, ${options.durationSec}s each, the same requests; ` +
        `ratio = gateway accepted/s ÷ bare accepted/s; 202 p50/p99 = latency of every answer`,
    );
    if (pipelineHeld)
      lines.push(
        `BENCH_DONATE_HOLD_PIPELINE=1: ${[...PIPELINE_SERVICES].join(", ")} were stopped during the load ` +
          "(the accept path alone, not the platform as it runs)",
      );
    lines.push("");
    lines.push(
      `accepted: ${accepted} × 202 in ${result.durationSec.toFixed(2)}s; ${measured.length} pledges created, ` +
        `${signedIn} by signed-in donors` +
        (unanswered > 0 ? ` (${unanswered} more than answered: requests cut off when the generator stopped)` : "") +
        (unanswered < 0 ? ` — ${-unanswered} FEWER than 202 answers: accepted pledges are missing` : ""),
    );
    lines.push(
      `captured: ${captured.length} of ${measured.length}, last capture ${fixed(captureWindowSec, 1)}s after the load ` +
        `started; statuses ${JSON.stringify(byStatus)}` +
        (Object.keys(failureReasons).length > 0 ? `, failure reasons ${JSON.stringify(failureReasons)}` : ""),
    );
    lines.push(
      `latency accept→captured (captured.at − createdAt): p50 ${fixed(latency.p50Ms, 0)} ms, p99 ${fixed(
        latency.p99Ms,
        0,
      )} ms, max ${fixed(latency.maxMs ?? Number.NaN, 0)} ms; HTTP 202 answer: p50 ${fixed(result.p50Ms, 1)} ms, ` +
        `p99 ${fixed(result.p99Ms, 1)} ms`,
    );
    if (errors > 0) {
      lines.push(`errors: ${JSON.stringify({ ...errorsByStatus, ...result.socketErrors })}`);
    }
    lines.push(
      `settled: ${settled ? `every pledge terminal ${settleSec.toFixed(1)}s after the load` : `NO — still open after ${settleSec.toFixed(0)}s`}`,
    );
    lines.push(
      `audit: totalDriftMinor ${audit.totalDriftMinor} → ${driftOk ? "PASS" : "FAIL"}, stuckPledges ${audit.stuckPledges}, ` +
        `${audit.campaigns.length} campaigns, captured − refunded ${auditSum} minor units` +
        (audits.length > 1
          ? ` (converged after ${audits.length} checks, first drift ${audits[0]?.totalDriftMinor})`
          : ""),
    );
    if (options.profile === "embedded") lines.push(...embeddedLines());
    lines.push(...bareLines(bare, ratio));
    if (db) lines.push(...databaseLines(db));
    else lines.push("database: n/a (PGlite runs inside the embedded platform's process: no pg_stat_database to read)");
    if (statements) lines.push(...statementLines(statementFigures, statements, measured.length));
    lines.push("");
    lines.push(...cpuTable(loadCpu, settleCpu, wholeCpu, measured.length, result));
    if (loadCpu.pgActivity) {
      lines.push(
        `bench db backends during the load, average number busy, by client and activity: ${Object.entries(
          loadCpu.pgActivity,
        )
          .slice(0, 8)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
    }
    lines.push("");
    lines.push(...serverTimeTable(serverTime));
    lines.push("");
    lines.push(`limit: ${limit.summary}`);
    for (const l of limit.notes) lines.push(`  ${l}`);
    lines.push(`targets (info): ${goals.map((g) => `${g.what} → ${g.met ? "met" : "not met"} (${g.got})`).join(", ")}`);

    const targets: TargetResult[] = [
      {
        name: "bare",
        request: "POST /api/campaigns/:id/pledges (bare durable accept: Bun.serve + postgres.js, one transaction)",
        url: `${bare.url}/api/campaigns/:id/pledges`,
        baseline: true,
        rounds: [loadResultOf(bare.result)],
      },
      {
        name: "gateway",
        request: "POST /api/campaigns/:id/pledges",
        url: `${gw}/api/campaigns/:id/pledges`,
        baseline: false,
        rounds: [loadResultOf(result)],
      },
    ];

    return {
      targets,
      verdicts: [
        { description: `audit totalDriftMinor = 0 (got ${audit.totalDriftMinor})`, pass: driftOk },
        { description: `every accepted pledge terminal within ${settleBudgetMs / 1000} s`, pass: settled },
        {
          description: `every 202 has its pledge (${measured.length} pledges for ${accepted} answers)`,
          pass: unanswered >= 0,
        },
        ...goals.map((g) => ({ description: `${g.what} (informational; got ${g.got})`, pass: g.met })),
      ],
      report: lines,
      details: {
        note: "one load run per invocation: --rounds does not apply; warm-up pledges are drained before the load and excluded",
        client: result.tool,
        loadAverageAtStart,
        profile: options.profile,
        platformSettings: {
          note: `on top of ./cfa start's settings (${options.profile === "embedded" ? "scripts/start-embedded.ts" : "scripts/start.ts"}); everything else at its default`,
          ...under.settings,
        },
        // BENCH_DONATE_HOLD_PIPELINE=1: payment, bank and campaign were stopped during the load.
        pipelineHeldDuringLoad: pipelineHeld,
        setup: {
          campaigns: campaignIds.length,
          guests: guests.length,
          signedInDonors: users.length,
          userEvery: USER_EVERY,
        },
        accepted: {
          count: accepted,
          perSec: acceptedPerSec,
          durationSec: result.durationSec,
          statuses: result.statuses,
          errorsByStatus,
          socketErrors: result.socketErrors,
          errorSamples: result.samples,
          http: { p50Ms: result.p50Ms, p99Ms: result.p99Ms, meanMs: result.meanMs, maxMs: result.maxMs },
          ratioToBare: Number.isFinite(ratio) ? ratio : null,
        },
        bare: {
          what: "Bun.serve + postgres.js; per POST one transaction: a pledge-shaped row + an outbox row (schema bare)",
          poolMax: bare.poolMax,
          accepted: bare.accepted,
          perSec: bare.acceptedPerSec,
          durationSec: bare.result.durationSec,
          statuses: bare.result.statuses,
          socketErrors: bare.result.socketErrors,
          errorSamples: bare.result.samples,
          http: {
            p50Ms: bare.result.p50Ms,
            p99Ms: bare.result.p99Ms,
            meanMs: bare.result.meanMs,
            maxMs: bare.result.maxMs,
          },
          rowsCommitted: bare.rows,
        },
        pgStatDatabase: db ?? { available: false, reason: "embedded profile: PGlite inside the platform's process" },
        pgStatStatements: !statements
          ? { available: false, reason: "embedded profile: PGlite inside the platform's process" }
          : statements.available
            ? statementFigures && {
                source: "pg_stat_statements calls in the bench database",
                loadStartToSettled: statementJson(statementFigures.whole, measured.length),
                loadWindow: statementJson(statementFigures.loadWindow, measured.length),
              }
            : { available: false, reason: statements.reason },
        pledges: { created: measured.length, bySignedInDonors: signedIn, byStatus, failureReasons },
        captured: {
          count: captured.length,
          perSec: capturedPerSec,
          loadStartedAt: new Date(result.startedAt).toISOString(),
          lastCaptureAt: captured.length > 0 ? new Date(lastCapture).toISOString() : null,
          windowSec: captureWindowSec,
          amountMinor: captured.reduce((n, c) => n + c.amount, 0),
          latencyMs: latency,
        },
        settle: { settled, seconds: settleSec, budgetSec: settleBudgetMs / 1000 },
        audit: { ...audit, checks: audits.length, firstDriftMinor: audits[0]?.totalDriftMinor ?? null },
        serverTimeDuringLoad: serverTime,
        cpu: {
          load: loadCpu,
          settle: settleCpu,
          loadStartToSettled: wholeCpu,
          cpuMsPerDonation: Object.fromEntries(
            wholeCpu.rows.map((r) => [r.name, measured.length > 0 ? (r.cpuSec * 1000) / measured.length : null]),
          ),
          generatorCpuSec: result.generatorCpuSec,
          bottleneck: bottleneck ?? null,
          limit,
        },
        targets: {
          acceptedPerSec: TARGET_ACCEPTED_PER_SEC,
          ratioToBare: TARGET_RATIO,
          httpP99Ms: TARGET_HTTP_P99_MS,
          capturedPerSec: TARGET_CAPTURED_PER_SEC,
          stackCpuMsPerDonation: TARGET_STACK_CPU_MS,
          commitsPerDonation: TARGET_COMMITS,
          goals,
        },
        gatewayUrl: gw,
        ...under.details,
      },
      cleanupErrors,
    };
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await sampler?.stop().catch(() => undefined);
    if (statements?.available) {
      await statements.close().catch((err) => cleanupErrors.push(`close pg_stat_statements reader: ${err}`));
    }
    if (monitor) await monitor.end({ timeout: 5 }).catch((err) => cleanupErrors.push(`close pg monitor: ${err}`));
    const keepLogs = failed && !signal.aborted;
    if (platform) {
      cleanupErrors.push(...(await platform.teardown({ keepLogs })));
      if (keepLogs) log(`service logs kept in ${platform.logsDir}`);
    }
    if (embedded) {
      cleanupErrors.push(...(await embedded.teardown({ keepLogs })));
      if (keepLogs) log(`embedded platform output kept in ${embedded.logFile}`);
    }
    if (bareDb) await bareDb.drop().catch((err) => cleanupErrors.push(`drop bare database: ${err}`));
    for (const e of cleanupErrors) log(`cleanup failed: ${e}`);
  }
}

function pipelineProcesses(platform: Platform) {
  return [...platform.stack.services.values()].filter((s) => PIPELINE_SERVICES.has(s.name)).map((s) => s.proc);
}

/** One pledge load as a row of the standard table: errors = non-202 answers + socket errors. */
function loadResultOf(r: PledgeLoadResult): LoadResult {
  const errorDetail: Record<string, number> = { ...r.socketErrors };
  for (const [status, n] of Object.entries(r.statuses)) if (status !== "202") errorDetail[status] = n;
  const socketErrors = Object.values(r.socketErrors).reduce((n, v) => n + v, 0);
  return {
    tool: r.tool,
    requestsPerSec: r.durationSec > 0 ? r.responses / r.durationSec : 0,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: Object.values(errorDetail).reduce((n, v) => n + v, 0),
    requests: r.responses + socketErrors,
    durationSec: r.durationSec,
    errorDetail,
  };
}

interface BareRun {
  url: string;
  poolMax: number;
  result: PledgeLoadResult;
  accepted: number;
  acceptedPerSec: number;
  errors: number;
  /** Rows the measured run committed (the warm-up's left out). */
  rows: { pledges: number; outbox: number };
}

/**
 * The bare durable accept under the same load as the platform (same requests, connections,
 * warm-up and duration), in its own process with a pool as large as the connections. Stopped
 * before the platform is measured, so its database connections are closed (and counted) by then.
 */
async function measureBare(
  options: BenchOptions,
  load: Omit<PledgeLoadOptions, "keyPrefix" | "durationSec">,
  databaseUrl: string,
  monitor: postgres.Sql,
): Promise<BareRun> {
  const { log } = options;
  const poolMax = await barePoolSize(monitor, options.connections);
  if (poolMax < options.connections) {
    log(`bare: pool of ${poolMax} connections, not ${options.connections}: max_connections leaves no more room`);
  }
  const bare = await startBareAccept({ databaseUrl, poolMax });
  try {
    log(`bare durable accept on ${bare.url} (pool ${poolMax})`);
    if (options.warmupSec > 0) {
      const warm = await runPledgeLoad({
        ...load,
        baseUrl: bare.url,
        keyPrefix: `bw${Date.now().toString(36)}`,
        durationSec: options.warmupSec,
      });
      log(`bare warm-up: ${warm.statuses["202"] ?? 0} accepted, statuses ${JSON.stringify(warm.statuses)}`);
    }
    options.signal.throwIfAborted();
    await Bun.sleep(200);
    const before = await bare.rows();
    const result = await runPledgeLoad({
      ...load,
      baseUrl: bare.url,
      keyPrefix: `bm${Date.now().toString(36)}`,
      durationSec: options.durationSec,
    });
    // Requests cut off when the generator stopped may still commit for a moment.
    await Bun.sleep(200);
    const after = await bare.rows();
    const accepted = result.statuses["202"] ?? 0;
    const row = loadResultOf(result);
    const acceptedPerSec = result.durationSec > 0 ? accepted / result.durationSec : 0;
    log(
      `bare: ${accepted} accepted (${acceptedPerSec.toFixed(0)}/s), p50 ${result.p50Ms.toFixed(1)} ms, ` +
        `p99 ${result.p99Ms.toFixed(1)} ms, statuses ${JSON.stringify(result.statuses)}` +
        (row.errors > 0 ? `, errors ${JSON.stringify(row.errorDetail)}` : ""),
    );
    for (const [status, body] of Object.entries(result.samples)) log(`bare sample ${status} answer: ${body}`);
    return {
      url: bare.url,
      poolMax,
      result,
      accepted,
      acceptedPerSec,
      errors: row.errors,
      rows: { pledges: after.pledges - before.pledges, outbox: after.outbox - before.outbox },
    };
  } finally {
    await bare.stop();
  }
}

/** What the embedded figures mean (printed with them). */
function embeddedLines(): string[] {
  return [
    "profile embedded: bun scripts/start-embedded.ts (what ./cfa start --embedded runs), fresh data dir — every " +
      "service, its relays, consumers and workers in ONE process on PGlite (single-threaded WASM PostgreSQL: one " +
      "backend, one transaction at a time for the whole platform), the in-memory bus and cache; the bare accept is " +
      "still Bun + this machine's PostgreSQL, the reference a real deployment has",
  ];
}

function bareLines(bare: BareRun, ratio: number): string[] {
  return [
    `bare durable accept (Bun.serve + postgres.js pool ${bare.poolMax}; per POST one transaction: pledge row + ` +
      `outbox row): ${fixed(bare.acceptedPerSec, 0)} accepted/s, p50 ${fixed(bare.result.p50Ms, 1)} ms, ` +
      `p99 ${fixed(bare.result.p99Ms, 1)} ms, ${bare.errors} errors; ${bare.rows.pledges} pledge rows and ` +
      `${bare.rows.outbox} outbox rows for ${bare.accepted} × 202 → ratio gateway/bare ${fixed(ratio, 2)}`,
  ];
}

interface DatabaseFigures {
  source: string;
  pledgesCreated: number;
  /** Load start → settled. */
  loadStartToSettled: DbDelta;
  commitsPerDonation: number;
  rowsPerDonation: { inserted: number; updated: number; deleted: number };
  rollbacksPerDonation: number;
  /** Load start → load end. */
  loadWindow: DbDelta & { commitsPerDonation: number; commitsPerSec: number };
  /** Admin list requests and status-gauge reads the harness made while measured (their commits are in). */
  harnessAdminRequests: number;
  /**
   * Commits and rows published only when the services stopped (after the audit): the size of
   * what a snapshot can miss, so each mark's uncertainty. `complete` false: some connections outlived the wait.
   */
  lagCheck: { unpublishedCommits: number; unpublishedRows: number; perDonation: number; complete: boolean };
}

function databaseFigures(input: {
  created: number;
  whole: DbDelta;
  loadWindow: DbDelta;
  lag: { before: DbCounters; after: DbCounters; complete: boolean };
  adminRequests: number;
}): DatabaseFigures {
  const per = (n: number) => (input.created > 0 ? n / input.created : Number.NaN);
  const lag = dbDelta(input.lag.before, input.lag.after);
  return {
    source: "pg_stat_database of the bench database",
    pledgesCreated: input.created,
    loadStartToSettled: input.whole,
    commitsPerDonation: per(input.whole.commits),
    rowsPerDonation: {
      inserted: per(input.whole.inserted),
      updated: per(input.whole.updated),
      deleted: per(input.whole.deleted),
    },
    rollbacksPerDonation: per(input.whole.rollbacks),
    loadWindow: {
      ...input.loadWindow,
      commitsPerDonation: per(input.loadWindow.commits),
      commitsPerSec: input.loadWindow.seconds > 0 ? input.loadWindow.commits / input.loadWindow.seconds : Number.NaN,
    },
    harnessAdminRequests: input.adminRequests,
    lagCheck: {
      unpublishedCommits: lag.commits,
      unpublishedRows: lag.inserted + lag.updated + lag.deleted,
      perDonation: per(lag.commits),
      complete: input.lag.complete,
    },
  };
}

function databaseLines(db: DatabaseFigures): string[] {
  const w = db.loadStartToSettled;
  const l = db.loadWindow;
  const lag = db.lagCheck;
  return [
    `database (pg_stat_database, bench db), load start → settled ${w.seconds.toFixed(1)}s: ${w.commits} commits = ` +
      `${fixed(db.commitsPerDonation, 2)}/donation, ${w.rollbacks} rollbacks; rows per donation: inserted ` +
      `${fixed(db.rowsPerDonation.inserted, 1)}, updated ${fixed(db.rowsPerDonation.updated, 1)}, deleted ` +
      `${fixed(db.rowsPerDonation.deleted, 1)}; includes the background workers and the harness's ` +
      `${db.harnessAdminRequests} admin polls`,
    `  load window alone ${l.seconds.toFixed(1)}s: ${l.commits} commits = ${fixed(l.commitsPerDonation, 2)}/donation ` +
      `(${fixed(l.commitsPerSec, 0)}/s)`,
    `  lag check: ${lag.unpublishedCommits} commits (${fixed(lag.perDonation, 2)}/donation) were published only when ` +
      `the services stopped after the audit${lag.complete ? "" : " (some connections still open)"}: PostgreSQL ` +
      `publishes a connection's counters with its next write ≥ 1 s later or when it closes, so a mark can be off by about that much`,
  ];
}

function statementJson(d: StatementDelta, donations: number) {
  return {
    calls: d.calls,
    callsPerDonation: donations > 0 ? d.calls / donations : null,
    top: d.statements.slice(0, 10).map((s) => ({
      query: shortQuery(s.query, 300),
      calls: s.calls,
      callsPerDonation: donations > 0 ? s.calls / donations : null,
      meanMs: s.meanMs,
    })),
  };
}

function statementLines(
  figures: { whole: StatementDelta; loadWindow: StatementDelta } | null,
  statements: Statements,
  donations: number,
): string[] {
  if (!statements.available) return [`statements/donation: n/a (${statements.reason})`];
  if (!figures) return ["statements/donation: n/a (no snapshot)"];
  const per = (n: number) => fixed(donations > 0 ? n / donations : Number.NaN, 2);
  return [
    `statements/donation: ${per(figures.whole.calls)} (pg_stat_statements calls in the bench db, load start → ` +
      `settled: ${figures.whole.calls}); load window alone ${per(figures.loadWindow.calls)}`,
    ...table(
      ["calls/donation", "mean ms", "statement (top 10 by calls, load start → settled)"],
      figures.whole.statements.slice(0, 10).map((s) => [per(s.calls), s.meanMs.toFixed(2), shortQuery(s.query, 100)]),
      new Set([0, 1]),
    ).map((line) => `  ${line}`),
  ];
}

/**
 * CPU-seconds and share of one core per process: the load window, the settle window, and the CPU
 * each donation cost end to end (load start → settled, divided by the pledges the load created).
 */
function cpuTable(
  load: CpuWindow,
  settle: CpuWindow,
  whole: CpuWindow,
  donations: number,
  result: PledgeLoadResult,
): string[] {
  const settleBy = new Map(settle.rows.map((r) => [r.name, r]));
  const wholeBy = new Map(whole.rows.map((r) => [r.name, r]));
  const perDonation = (cpuSec: number | undefined) =>
    cpuSec !== undefined && donations > 0 ? ((cpuSec * 1000) / donations).toFixed(2) : "-";
  const rows = load.rows.map((r) => {
    const s = settleBy.get(r.name);
    return [
      r.name,
      r.cpuSec.toFixed(1),
      `${r.pctOfCore.toFixed(0)}%`,
      s ? s.cpuSec.toFixed(1) : "-",
      s ? `${s.pctOfCore.toFixed(0)}%` : "-",
      perDonation(wholeBy.get(r.name)?.cpuSec),
    ];
  });
  if (result.generatorCpuSec !== null && result.tool === "wrk") {
    rows.push([
      "wrk (load generator)",
      result.generatorCpuSec.toFixed(1),
      `${((result.generatorCpuSec / load.seconds) * 100).toFixed(0)}%`,
      "-",
      "-",
      "-",
    ]);
  }
  const busy = (w: CpuWindow) => (w.machine ? w.machine.busyCores * w.seconds : undefined);
  const pct = (w: CpuWindow) => (w.machine ? `${(w.machine.busyCores * 100).toFixed(0)}%` : "-");
  rows.push([
    `machine, all processes (${load.machine?.cores ?? cpus().length} cores)`,
    busy(load)?.toFixed(1) ?? "-",
    pct(load),
    busy(settle)?.toFixed(1) ?? "-",
    pct(settle),
    perDonation(busy(whole)),
  ]);
  return [
    ...table(
      [
        "cpu per process",
        `load ${load.seconds.toFixed(1)}s cpu-s`,
        "of a core",
        `settle ${settle.seconds.toFixed(1)}s cpu-s`,
        "of a core",
        "cpu-ms/donation",
      ],
      rows,
      new Set([1, 2, 3, 4, 5]),
    ),
    "(shared): also serves other workloads on this machine; the bench db backends are inside postgres' total; " +
      "cpu-ms/donation = CPU from load start until settled / pledges the load created",
  ];
}

/** Where requests spent their time during the load, per service and route (from each /metrics). */
function serverTimeTable(rows: readonly RouteDelta[]): string[] {
  return table(
    ["server time during the load", "status", "requests", "mean ms"],
    rows.slice(0, 12).map((r) => [`${r.service} ${r.route}`, r.status, String(r.requests), r.meanMs.toFixed(1)]),
    new Set([2, 3]),
  );
}

/**
 * Reads the CPU figures into one sentence: a service whose single JS thread is (nearly) always busy
 * is the bottleneck; otherwise, with every core busy, the machine is (total CPU per donation);
 * otherwise the stack is waiting on something other than CPU (see the db activity and server time).
 */
function whatLimits(
  load: CpuWindow,
  whole: CpuWindow,
  platformRows: readonly CpuRow[],
  serviceNames: ReadonlySet<string>,
  donations: number,
): { summary: string; notes: string[]; stackCpuMsPerDonation: number | null; busiest: CpuRow | null } {
  const busiest = platformRows[0] ?? null;
  const cores = load.machine?.cores ?? cpus().length;
  const busyCores = load.machine?.busyCores ?? Number.NaN;
  const ours = (w: CpuWindow) =>
    w.rows.filter((r) => serviceNames.has(r.name) || r.name.includes("bench db")).reduce((n, r) => n + r.cpuSec, 0);
  const stackLoadCores = load.seconds > 0 ? ours(load) / load.seconds : Number.NaN;
  const stackMs = donations > 0 ? (ours(whole) * 1000) / donations : null;
  const notes = [
    `busiest during the load: ${busiest ? `${busiest.name} ${busiest.pctOfCore.toFixed(0)}% of one core` : "-"}; ` +
      `machine ${fixed(busyCores, 2)} of ${cores} cores busy, of which this stack (services + bench db backends) ` +
      `${fixed(stackLoadCores, 2)} and everything else (other workloads, nats, the generator) ${fixed(busyCores - stackLoadCores, 2)}`,
    ...(load.pgConnections
      ? [
          `bench db connections: ${load.pgConnections.peak} open (all services' pools), busy (not idle) ` +
            `mean ${load.pgConnections.meanBusy.toFixed(1)}, peak ${load.pgConnections.peakBusy} ` +
            `${JSON.stringify(load.pgConnections.busiestByState)}`,
        ]
      : []),
  ];
  if (load.pgActivity) {
    const perApp: Record<string, number> = {};
    for (const [what, n] of Object.entries(load.pgActivity)) {
      const app = what.split(" ")[0] ?? "?";
      perApp[app] = (perApp[app] ?? 0) + n;
    }
    const pool = Number(process.env.DATABASE_POOL_MAX ?? 10);
    const ranked = Object.entries(perApp).sort((a, b) => b[1] - a[1]);
    const full = ranked.filter(([, n]) => n >= 0.8 * pool).map(([app]) => app);
    notes.push(
      `db connections held busy per service (mean, pool max ${pool}): ` +
        ranked.map(([app, n]) => `${app} ${n.toFixed(1)}`).join(", ") +
        (full.length > 0
          ? ` — ${full.join(", ")} near the pool limit: its requests queue for a connection (backends "idle in ` +
            `transaction" / ClientRead wait on the service process, i.e. on its CPU when the machine is saturated)`
          : ""),
    );
  }
  if (stackMs !== null) {
    notes.push(
      `this stack's CPU per donation (accept → captured): ${stackMs.toFixed(1)} ms → at most ` +
        `${((cores * 1000) / stackMs).toFixed(0)} donations/s with all ${cores} cores to itself`,
    );
  }
  let summary: string;
  if (busiest && busiest.pctOfCore >= 85) {
    summary = `${busiest.name} is saturated (${busiest.pctOfCore.toFixed(0)}% of a core; a service runs its JS on one thread)`;
  } else if (busyCores >= 0.9 * cores) {
    summary =
      "CPU-bound machine: every core busy, no single process saturated — throughput is bounded by the total " +
      "CPU each donation costs across the services and PostgreSQL (and by what other workloads take)";
  } else {
    summary = "no CPU saturation: the stack waits on something else (see the db activity and server time above)";
  }
  return { summary, notes, stackCpuMsPerDonation: stackMs, busiest };
}
