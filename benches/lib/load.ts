// The load generator: `oha` when it is on PATH, else `wrk`. Both are read through their
// machine-readable output (oha's JSON, a wrk Lua `done` hook printing one JSON line), never by
// parsing the human summary.
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadResult } from "./types";

export interface LoadOptions {
  url: string;
  durationSec: number;
  connections: number;
  /** wrk threads; clamped to `connections`. Ignored by oha. */
  threads: number;
  headers?: Record<string, string>;
  /** Kills the load generator when aborted. */
  signal?: AbortSignal;
}

export type LoadTool = LoadResult["tool"];

/** Which generator `runLoad` uses on this machine, or null when neither is installed. */
export function loadTool(): LoadTool | null {
  if (Bun.which("oha")) return "oha";
  if (Bun.which("wrk")) return "wrk";
  return null;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const tool = loadTool();
  if (tool === null) throw new Error("no load generator found: install `oha` or `wrk`");
  if (!Number.isInteger(options.durationSec) || options.durationSec < 1) {
    throw new Error(`duration must be a whole number of seconds >= 1, got ${options.durationSec}`);
  }
  return tool === "oha" ? runOha(options) : runWrk(options);
}

interface Exec {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

async function exec(cmd: string[], options: LoadOptions): Promise<Exec> {
  const proc = Bun.spawn(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    // A generator that never returns must not hang the harness.
    timeout: (options.durationSec + 60) * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const exitCode = await proc.exited;
  if (options.signal?.aborted) throw new Error(`${cmd[0]} interrupted`);
  return { stdout, stderr, exitCode };
}

function headerArgs(headers: Record<string, string> | undefined): string[] {
  return Object.entries(headers ?? {}).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
}

// ---------------------------------------------------------------------------------------------
// wrk

const WRK_MARKER = "BENCH_JSON ";

// `done` runs once in wrk's main thread after every thread has finished. Latencies are in µs.
const WRK_SCRIPT = `-- written by benches/lib/load.ts: prints the run's figures as one JSON line
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${WRK_MARKER}{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50Us":%.3f,"p99Us":%.3f,"meanUs":%.3f,"maxUs":%.3f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
`;

interface WrkSummary {
  requests: number;
  durationUs: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const script = join(tmpdir(), `cfa-bench-wrk-${process.pid}-${Math.random().toString(36).slice(2, 8)}.lua`);
  writeFileSync(script, WRK_SCRIPT);
  try {
    const threads = Math.max(1, Math.min(options.threads, options.connections));
    const cmd = [
      "wrk",
      "-t",
      String(threads),
      "-c",
      String(options.connections),
      "-d",
      `${options.durationSec}s`,
      "-s",
      script,
      ...headerArgs(options.headers),
      options.url,
    ];
    const { stdout, stderr, exitCode } = await exec(cmd, options);
    const line = stdout.split("\n").find((l) => l.startsWith(WRK_MARKER));
    if (exitCode !== 0 || !line) {
      throw new Error(`wrk failed (exit ${exitCode}): ${(stderr || stdout).trim().slice(0, 2000)}`);
    }
    const s = JSON.parse(line.slice(WRK_MARKER.length)) as WrkSummary;
    const durationSec = s.durationUs / 1e6;
    const errorDetail = { connect: s.connect, read: s.read, write: s.write, timeout: s.timeout, status: s.status };
    return {
      tool: "wrk",
      requestsPerSec: durationSec > 0 ? s.requests / durationSec : 0,
      p50Ms: s.p50Us / 1000,
      p99Ms: s.p99Us / 1000,
      errors: s.connect + s.read + s.write + s.timeout + s.status,
      requests: s.requests,
      durationSec,
      errorDetail,
    };
  } finally {
    rmSync(script, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// oha

interface OhaJson {
  summary: { total: number; requestsPerSec: number; successRate?: number };
  latencyPercentiles?: Partial<Record<"p50" | "p99", number | null>>;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number>;
}

let ohaJsonFlags: string[] | undefined;

/** Newer oha spells it `--output-format json`; older releases only know `--json`. */
async function ohaOutputFlags(): Promise<string[]> {
  if (!ohaJsonFlags) {
    const help = Bun.spawnSync(["oha", "--help"], { stdout: "pipe", stderr: "pipe" });
    ohaJsonFlags = help.stdout.toString().includes("--output-format") ? ["--output-format", "json"] : ["--json"];
  }
  return ohaJsonFlags;
}

async function runOha(options: LoadOptions): Promise<LoadResult> {
  const cmd = [
    "oha",
    "-z",
    `${options.durationSec}s`,
    "-c",
    String(options.connections),
    "--no-tui",
    ...(await ohaOutputFlags()),
    ...headerArgs(options.headers),
    options.url,
  ];
  const { stdout, stderr, exitCode } = await exec(cmd, options);
  let report: OhaJson;
  try {
    if (exitCode !== 0) throw new Error(`exit ${exitCode}`);
    report = JSON.parse(stdout) as OhaJson;
  } catch (err) {
    throw new Error(`oha failed (${String(err)}): ${(stderr || stdout).trim().slice(0, 2000)}`);
  }
  const statuses = report.statusCodeDistribution ?? {};
  const errorDetail: Record<string, number> = {};
  let errors = 0;
  let responses = 0;
  let socketErrors = 0;
  for (const [code, count] of Object.entries(statuses)) {
    responses += count;
    const status = Number(code);
    if (status < 200 || status >= 400) {
      errors += count;
      errorDetail[`status ${code}`] = count;
    }
  }
  for (const [message, count] of Object.entries(report.errorDistribution ?? {})) {
    // Requests still in flight when -z expires are cut off by oha itself, not failed by the server.
    if (/deadline/i.test(message)) continue;
    errors += count;
    socketErrors += count;
    errorDetail[message] = count;
  }
  const seconds = (v: number | null | undefined) => (typeof v === "number" ? v * 1000 : Number.NaN);
  return {
    tool: "oha",
    requestsPerSec: report.summary.requestsPerSec,
    p50Ms: seconds(report.latencyPercentiles?.p50),
    p99Ms: seconds(report.latencyPercentiles?.p99),
    errors,
    requests: responses + socketErrors,
    durationSec: report.summary.total,
    errorDetail,
  };
}

/** First line of the generator's own version banner, for the JSON record. */
export function loadToolVersion(): string {
  const tool = loadTool();
  if (tool === null) return "none";
  const res = Bun.spawnSync([tool, tool === "wrk" ? "-v" : "--version"], { stdout: "pipe", stderr: "pipe" });
  const text = `${res.stdout.toString()}\n${res.stderr.toString()}`.trim();
  return text.split("\n")[0]?.trim() || tool;
}
