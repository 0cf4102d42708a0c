// Stopping a helper process the harness spawned (baseline servers): SIGTERM, a grace period,
// then SIGKILL; safe to call more than once.
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
