// The harness's helper servers (the bare Bun.serve baseline, the bare durable accept): each a
// `bun` process with the platform's runtime settings, waited for until it answers, and stopped
// with SIGTERM, a grace period, then SIGKILL.
import { RUNTIME_ENV } from "../../scripts/stack";

/** Stops a spawned process: SIGTERM, `graceMs`, then SIGKILL; safe to call more than once. */
export function processStopper(
  proc: { kill(signal?: NodeJS.Signals | number): void; exited: Promise<number> },
  graceMs: number,
  after?: () => void,
): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!exited) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    after?.();
  };
}

export interface BenchServerOptions {
  /** For error messages: "baseline server", "bare accept server". */
  name: string;
  script: string;
  env: Record<string, string>;
  /** Resolves true once the server answers as it should, false while it cannot be reached; throws on a wrong answer. */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
  graceMs: number;
  /** Runs after the process has exited (e.g. removing its files). */
  afterStop?: () => void;
}

/**
 * Spawns `bun <script>` with the same runtime settings the launcher gives every service
 * (RUNTIME_ENV in scripts/stack.ts), so a ratio compares code, and waits until `ready()`;
 * stops it again if it exits or never gets ready.
 */
export async function startBenchServer(options: BenchServerOptions) {
  const proc = Bun.spawn(["bun", options.script], {
    env: { ...RUNTIME_ENV, ...process.env, ...options.env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const stop = processStopper(proc, options.graceMs, options.afterStop);
  try {
    const deadline = Date.now() + options.readyTimeoutMs;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${options.name} exited with code ${proc.exitCode}`);
      if (await options.ready()) break;
      if (Date.now() > deadline) throw new Error(`${options.name} not ready`);
      await Bun.sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, stop };
}
