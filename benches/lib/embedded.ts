// The embedded profile as a benchmark target: `bun scripts/start-embedded.ts` (what `./cfa start
// --embedded` runs) in a child process — every service in that one process on PGlite, the in-memory
// bus and cache — on a fresh data directory under a temp dir and a free port, its output in a file.
// Ready once it has printed its banner (demo data seeded, as `./cfa start` leaves it). Teardown
// stops it (SIGTERM: gateway first, the bus drained) and removes the temp dir.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@careforall/http";
import { ROOT } from "../../scripts/stack";
import { startLogLevel } from "./platform";
import { processStopper } from "./process";

/** The banner's first words (scripts/banner.ts): seeding is over, the platform is as `./cfa start` leaves it. */
const UP = "CareForAll is up";

export interface EmbeddedBenchPlatform {
  profile: "embedded";
  gatewayUrl: string;
  /** The one process every service runs in (its CPU is the whole platform's, PGlite included). */
  pid: number;
  dataDir: string;
  /** Where the process's output (JSON logs, the banner) goes; kept and printed on failure. */
  logFile: string;
  settings: Record<string, string>;
  /** SIGTERM and wait (the platform drains its bus, up to 10 s), SIGKILL after `graceMs`. */
  stop(): Promise<void>;
  teardown(options?: { keepLogs?: boolean }): Promise<string[]>;
}

export interface EmbeddedBenchOptions {
  logLevel?: string;
  /** Service settings on top of `./cfa start`'s (rate limits off, a throw-away admin). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  log(message: string): void;
}

export async function startEmbeddedBench(options: EmbeddedBenchOptions): Promise<EmbeddedBenchPlatform> {
  const dir = mkdtempSync(join(tmpdir(), "cfa-bench-embedded-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "platform.log");
  const port = freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const settings: Record<string, string> = {
    LOG_LEVEL: options.logLevel ?? startLogLevel(),
    LOG_FORMAT: "json",
    ...options.env,
  };
  const shown = (s: Record<string, string>) =>
    Object.fromEntries(Object.entries(s).filter(([k]) => !/PASSWORD|SECRET/.test(k)));
  options.log(
    `starting the embedded platform (bun scripts/start-embedded.ts, data in ${dataDir}; ` +
      `${Object.entries(shown(settings))
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")})`,
  );
  const proc = Bun.spawn(["bun", join(ROOT, "scripts", "start-embedded.ts")], {
    cwd: ROOT,
    // As `./cfa start --embedded` runs it: this process's environment, the data dir and port its own.
    env: { ...process.env, ...settings, CFA_DATA_DIR: dataDir, PORT: String(port), CFA_PROFILE_REASON: "bench" },
    stdout: Bun.file(logFile),
    stderr: Bun.file(`${logFile}.stderr`),
  });
  const stop = processStopper(proc, 30_000);
  const output = () => {
    const read = (f: string) => {
      try {
        return readFileSync(f, "utf8");
      } catch {
        return "";
      }
    };
    return `${read(logFile)}${read(`${logFile}.stderr`)}`;
  };

  async function teardown({ keepLogs = false } = {}): Promise<string[]> {
    const failed: string[] = [];
    try {
      await stop();
      if (proc.exitCode !== 0) failed.push(`embedded platform exited ${proc.exitCode ?? proc.signalCode}`);
    } catch (err) {
      failed.push(`stop embedded platform: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (keepLogs || failed.length > 0) rmSync(dataDir, { recursive: true, force: true });
    else rmSync(dir, { recursive: true, force: true });
    return failed;
  }

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`exited with code ${proc.exitCode}`);
      if (output().includes(UP)) break;
      if (Date.now() > deadline) throw new Error("no banner in time");
      await Bun.sleep(100);
    }
    const ready = await fetch(`${gatewayUrl}/ready`, { signal: AbortSignal.timeout(5000) });
    if (ready.status !== 200) throw new Error(`/ready answered ${ready.status}`);
  } catch (err) {
    const tail = output().slice(-4000);
    await teardown({ keepLogs: true });
    throw new Error(`the embedded platform did not start: ${String(err)}\n(output in ${logFile})\n${tail}`);
  }
  options.log(`embedded platform up on ${gatewayUrl} (pid ${proc.pid}, output ${logFile})`);
  return {
    profile: "embedded",
    gatewayUrl,
    pid: proc.pid,
    dataDir,
    logFile,
    settings: shown(settings),
    stop,
    teardown,
  };
}
