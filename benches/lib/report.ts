// Turns a scenario's rounds into medians, prints them as a table and keeps the full record as
// JSON in benches/results/<scenario>-<timestamp>.json (machine, parameters, every round).
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import type { BenchOptions, LoadResult, Profile, ScenarioResult, TargetResult } from "./types";

export const RESULTS_DIR = join(import.meta.dir, "..", "results");

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2;
}

/** The nearest-rank percentile (p in 0–100) of values sorted ascending; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** A number with `digits` decimals, or "-" when it is not finite. */
export const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : "-");

export interface TargetSummary {
  name: string;
  /** The platform profile measured; null for the baseline (a bare reference, no platform). */
  profile: Profile | null;
  request: string;
  url: string;
  baseline: boolean;
  tool: string;
  median: { requestsPerSec: number; p50Ms: number; p99Ms: number };
  totalErrors: number;
  totalRequests: number;
  /** Median req/s divided by the baseline's median req/s (null without a baseline). */
  ratioToBaseline: number | null;
  rounds: Array<LoadResult & { round: number }>;
}

export function summarise(result: ScenarioResult, profile: Profile = "servers"): TargetSummary[] {
  const base = result.targets.find((t) => t.baseline);
  const baseRps = base ? median(base.rounds.map((r) => r.requestsPerSec)) : Number.NaN;
  return result.targets.map((t: TargetResult) => {
    const rps = median(t.rounds.map((r) => r.requestsPerSec));
    return {
      name: t.name,
      profile: t.baseline ? null : profile,
      request: t.request,
      url: t.url,
      baseline: t.baseline,
      tool: [...new Set(t.rounds.map((r) => r.tool))].join(",") || "-",
      median: {
        requestsPerSec: rps,
        p50Ms: median(t.rounds.map((r) => r.p50Ms)),
        p99Ms: median(t.rounds.map((r) => r.p99Ms)),
      },
      totalErrors: t.rounds.reduce((n, r) => n + r.errors, 0),
      totalRequests: t.rounds.reduce((n, r) => n + r.requests, 0),
      ratioToBaseline: base && baseRps > 0 ? rps / baseRps : null,
      rounds: t.rounds.map((r, i) => ({ round: i + 1, ...r })),
    };
  });
}

/** The table, as lines (stdout is the report; progress goes to stderr). */
export function formatTable(scenario: string, options: BenchOptions, summaries: TargetSummary[]): string {
  const header = [
    "scenario",
    "target",
    "profile",
    "tool",
    "connections",
    "duration",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "ratio",
  ];
  const rows = summaries.map((s) => [
    scenario,
    s.name,
    s.profile ?? "-",
    s.tool,
    String(options.connections),
    `${options.durationSec}s x${s.rounds.length}`,
    fixed(s.median.requestsPerSec, 0),
    fixed(s.median.p50Ms, 2),
    fixed(s.median.p99Ms, 2),
    String(s.totalErrors),
    s.ratioToBaseline === null ? "-" : fixed(s.ratioToBaseline, 2),
  ]);
  const numeric = new Set([4, 6, 7, 8, 9, 10]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export interface ReportInput {
  scenario: string;
  description: string;
  options: BenchOptions;
  result: ScenarioResult;
  startedAt: Date;
  finishedAt: Date;
  toolVersion: string;
}

export function machineInfo() {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown",
    bun: Bun.version,
    bunRevision: Bun.revision,
    platform: platform(),
    release: release(),
    arch: arch(),
    totalMemoryBytes: totalmem(),
    loadAverage: loadavg(),
  };
}

/** Prints the table and verdicts, writes the JSON record; returns the JSON file's path. */
export function report(input: ReportInput): string {
  const { scenario, options, result } = input;
  const summaries = summarise(result, options.profile);
  const out: string[] = [];
  out.push("");
  out.push(formatTable(scenario, options, summaries));
  out.push("");
  if (result.bodyBytes !== undefined)
    out.push(`response body: ${result.bodyBytes} bytes (baseline serves the same size)`);
  out.push("req/s, p50 and p99 are medians across rounds; errors are totals; ratio = median req/s / baseline's");
  if (result.report && result.report.length > 0) out.push("", ...result.report, "");
  for (const v of result.verdicts) out.push(`target: ${v.description} → ${v.pass ? "PASS" : "FAIL"}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = input.startedAt.toISOString().replace(/:/g, "-");
  const file = join(
    RESULTS_DIR,
    `${scenario}${options.profile === "servers" ? "" : `-${options.profile}`}-${stamp}.json`,
  );
  const record = {
    scenario,
    description: input.description,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    machine: machineInfo(),
    parameters: {
      profile: options.profile,
      durationSec: options.durationSec,
      warmupSec: options.warmupSec,
      connections: options.connections,
      threads: options.threads,
      rounds: options.rounds,
      servicesLogLevel: options.logLevel,
      tool: summaries[0]?.tool ?? null,
      toolVersion: input.toolVersion,
    },
    bodyBytes: result.bodyBytes ?? null,
    targets: summaries,
    verdicts: result.verdicts,
    details: result.details ?? {},
    cleanupErrors: result.cleanupErrors,
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  out.push(`results: ${file}`);
  console.log(out.join("\n"));
  return file;
}
