// campaign-read: the hot path. GET /api/campaigns/:id on the gateway is answered from an
// in-process snapshot by a Bun native route, so it should run close to a bare Bun.serve that
// returns a body of the same size. Both are measured interleaved in the same run; the target is
// gateway median req/s >= 0.8 x baseline median req/s, with zero errors. `--profile embedded`
// measures the same read on the embedded platform (every service in one process on PGlite).
import { type Baseline, startBaseline } from "../lib/baseline";
import { type EmbeddedBenchPlatform, startEmbeddedBench } from "../lib/embedded";
import { measureInterleaved } from "../lib/measure";
import { api, createCampaign, type Platform, registerUser, startPlatform } from "../lib/platform";
import { median } from "../lib/report";
import type { BenchOptions, Profile, ScenarioResult, TargetResult } from "../lib/types";

export const name = "campaign-read";
export const description =
  "GET /api/campaigns/:id through the gateway (in-process snapshot) vs a bare Bun.serve with the same body size";

export const profiles: readonly Profile[] = ["servers", "embedded"];

const TARGET_RATIO = 0.8;

export async function run(options: BenchOptions): Promise<ScenarioResult> {
  let platform: Platform | undefined;
  let embedded: EmbeddedBenchPlatform | undefined;
  let baseline: Baseline | undefined;
  let targets: TargetResult[] = [];
  const cleanupErrors: string[] = [];
  let failed = false;
  try {
    // As `./cfa start` runs it; the load never touches a rate-limited route, so every limit stays on.
    if (options.profile === "embedded") {
      embedded = await startEmbeddedBench({ log: options.log, logLevel: options.logLevel });
    } else {
      platform = await startPlatform({ log: options.log, logLevel: options.logLevel });
    }
    const gw = (platform ?? embedded)?.gatewayUrl as string;
    options.signal.throwIfAborted();

    const session = await registerUser(gw);
    const campaign = await createCampaign(gw, session.accessToken);
    const url = `${gw}/api/campaigns/${campaign.id}`;
    // First read loads the snapshot (Redis/origin); the second must come from process memory.
    await api(url);
    const read = await api<{ id: string }>(url);
    if (read.body.id !== campaign.id) throw new Error(`gateway returned campaign ${read.body.id}, not ${campaign.id}`);
    const contentType = read.headers.get("content-type") ?? "";
    if (!contentType.startsWith("application/json")) throw new Error(`unexpected content-type ${contentType}`);
    const body = read.text;
    const bodyBytes = Buffer.byteLength(body, "utf8");
    options.log(`campaign ${campaign.id}: ${bodyBytes}-byte body, etag ${read.headers.get("etag")}`);

    baseline = await startBaseline({ body });
    options.log(`baseline (bare Bun.serve, ${baseline.bodyBytes} bytes) on ${baseline.url}`);

    targets = await measureInterleaved(options, [
      { name: "baseline", request: "GET / (bare Bun.serve)", url: `${baseline.url}/`, baseline: true },
      { name: "gateway", request: "GET /api/campaigns/:id", url },
    ]);

    // The snapshot must still be the one measured (nothing changed it mid-run).
    const after = await api(url);
    if (after.text !== body) options.log("note: the campaign body changed during the run");

    const metrics = await fetch(`${gw}/metrics`)
      .then((r) => r.text())
      .catch(() => "");
    const lookups = metrics
      .split("\n")
      .filter((l) => l.startsWith("careforall_gateway_snapshot_lookups_total"))
      .map((l) => l.trim());

    const medianRps = (t: TargetResult | undefined) => median((t?.rounds ?? []).map((r) => r.requestsPerSec));
    const base = medianRps(targets.find((t) => t.baseline));
    const gateway = medianRps(targets.find((t) => t.name === "gateway"));
    const ratio = base > 0 ? gateway / base : 0;
    const errors = targets.reduce((n, t) => n + t.rounds.reduce((m, r) => m + r.errors, 0), 0);

    return {
      targets,
      bodyBytes,
      verdicts: [
        { description: `ratio >= ${TARGET_RATIO} with zero errors`, pass: ratio >= TARGET_RATIO && errors === 0 },
      ],
      details: {
        campaignId: campaign.id,
        etag: read.headers.get("etag"),
        gatewayUrl: gw,
        baselineUrl: baseline.url,
        ratio,
        targetRatio: TARGET_RATIO,
        snapshotLookups: lookups,
        profile: options.profile,
        platformSettings: (platform ?? embedded)?.settings,
        ...(platform
          ? { database: platform.database, redisPrefix: platform.redisPrefix, busPrefix: platform.busPrefix }
          : { embedded: { pid: embedded?.pid, dataDir: embedded?.dataDir } }),
      },
      ...(embedded ? { report: [EMBEDDED_NOTE] } : {}),
      cleanupErrors,
    };
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (baseline) {
      await baseline.stop().catch((err) => cleanupErrors.push(`stop baseline: ${String(err)}`));
    }
    const keepLogs = failed && !options.signal.aborted;
    if (platform) {
      cleanupErrors.push(...(await platform.teardown({ keepLogs })));
      if (keepLogs) options.log(`service logs kept in ${platform.logsDir}`);
    }
    if (embedded) {
      cleanupErrors.push(...(await embedded.teardown({ keepLogs })));
      if (keepLogs) options.log(`embedded platform output kept in ${embedded.logFile}`);
    }
    for (const e of cleanupErrors) options.log(`cleanup failed: ${e}`);
  }
}

const EMBEDDED_NOTE =
  "profile embedded: bun scripts/start-embedded.ts (what ./cfa start --embedded runs) — every service in one " +
  "process on PGlite, in-memory bus and cache, fresh data dir; the read is answered from the gateway's snapshot as on servers";
