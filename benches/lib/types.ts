// Shared shapes of the benchmark harness: what a scenario receives, what it hands back, and
// what one load-generator run measures. A scenario is a file under benches/scenarios/ that
// exports `name`, `description` and `run(options)` (or a default object with those three).

/** Figures of one load-generator run against one URL. */
export interface LoadResult {
  /** Completed requests per second over the measured window. */
  requestsPerSec: number;
  /** Median latency, milliseconds. */
  p50Ms: number;
  /** 99th percentile latency, milliseconds. */
  p99Ms: number;
  /** Responses outside 2xx/3xx plus socket errors (connect, read, write, timeout). */
  errors: number;
  /** Completed requests (including the ones counted as errors). */
  requests: number;
  /** Which load generator produced these figures ("bun": the harness's own fetch client). */
  tool: "oha" | "wrk" | "bun";
  /** Measured wall time in seconds, as reported by the tool. */
  durationSec: number;
  /** Tool-specific error breakdown, for the JSON report. */
  errorDetail: Record<string, number>;
}

/**
 * Which platform a scenario measures: `servers` (every service its own process on PostgreSQL,
 * Redis and NATS, as `./cfa start` runs it on this machine) or `embedded` (every service in one
 * process on PGlite, the in-memory bus and cache, as `./cfa start --embedded` runs it).
 */
export type Profile = "servers" | "embedded";
export const PROFILES: readonly Profile[] = ["servers", "embedded"];

/** Command-line parameters every scenario receives. */
export interface BenchOptions {
  /** --profile: the platform measured (default servers). */
  profile: Profile;
  /** Measured seconds per run. */
  durationSec: number;
  /** Unrecorded warm-up seconds before each measured run (0 disables it). */
  warmupSec: number;
  connections: number;
  /** Load-generator threads (wrk only; oha schedules its own). */
  threads: number;
  rounds: number;
  /** LOG_LEVEL of every service: --log-level, else what `./cfa start` sets (LOG_LEVEL from the environment, else info). */
  logLevel: string;
  /** Aborted on SIGINT/SIGTERM; scenarios stop between steps and still tear down. */
  signal: AbortSignal;
  /** Progress lines (stderr), so stdout stays the report. */
  log(message: string): void;
  /** Values of the scenario's own options (its `flags`), as given on the command line. */
  flags?: Record<string, string>;
}

/** An option only one scenario takes (`--<name> <value>`), with its default and help text. */
export interface ScenarioFlag {
  default: string;
  help: string;
}

/** One measured target (e.g. the baseline, the gateway) across all rounds. */
export interface TargetResult {
  /** Short label shown in the table: "baseline", "gateway". */
  name: string;
  /** What was requested, e.g. "GET /api/campaigns/:id". */
  request: string;
  url: string;
  /** True for the bare Bun.serve reference every other target is compared with. */
  baseline: boolean;
  rounds: LoadResult[];
}

/** A pass/fail line a scenario states about its own figures (informational). */
export interface TargetVerdict {
  description: string;
  pass: boolean;
}

export interface ScenarioResult {
  targets: TargetResult[];
  verdicts: TargetVerdict[];
  /** Byte size of the response body the targets returned. */
  bodyBytes?: number;
  /** Anything else worth keeping in the JSON report (ids, versions, notes). */
  details?: Record<string, unknown>;
  /** Extra report lines (a scenario's own table, notes), printed after the standard table. */
  report?: string[];
  /** Teardown steps that failed; the run exits non-zero when there are any. */
  cleanupErrors: string[];
}

export interface Scenario {
  name: string;
  description: string;
  /** The profiles it can measure (default: servers only). */
  profiles?: readonly Profile[];
  /** Options of its own beyond the common ones (e.g. ws-fanout's --sockets). */
  flags?: Record<string, ScenarioFlag>;
  run(options: BenchOptions): Promise<ScenarioResult>;
}
