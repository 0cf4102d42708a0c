// Test helpers for asynchronous outcomes: poll with a deadline instead of sleeping, and a
// capturing logger so tests can assert what the bus reported.
import { createLogger, type Logger } from "@careforall/log";

/** Polls `check` until it returns truthy (or stops throwing); fails with the last reason at the deadline. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = new Error(`condition still false: ${check.toString()}`);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last instanceof Error ? last : new Error(String(last));
    await Bun.sleep(intervalMs);
  }
}

/**
 * Proving that something does NOT happen needs a window of time; this is the one place a test
 * sleeps, always after the positive outcome was awaited with waitFor.
 */
export function quietWindow(ms: number): Promise<void> {
  return Bun.sleep(ms);
}

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
}

export function captureLog(service = "bus-test"): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service,
    level: "debug",
    destination: { write: (s: string) => lines.push(JSON.parse(s)) },
  });
  return { log, lines };
}
