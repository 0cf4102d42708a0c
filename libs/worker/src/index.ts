// The background loop every poller shares (outbox relay, payment reconciler, bank expiry sweeper
// and webhook sender): run a tick, sleep unless there is more to do, wake early on a kick, log
// a failed tick and carry on, and stop only after the tick in progress has finished.
import type { Logger } from "@careforall/log";

export interface PollingLoop {
  start(): void;
  /** Stops polling; resolves once the tick in progress (if any) has finished. */
  stop(): Promise<void>;
  /** Runs the next tick now instead of after the interval (e.g. right after a commit). */
  kick(): void;
}

export interface PollingLoopOptions {
  /** For the log line of a failed tick, e.g. "outbox.relay". */
  name: string;
  log: Logger;
  intervalMs: number;
  /** One round of work; resolves true when more work is waiting (a full batch), to skip the sleep. */
  tick(): Promise<boolean>;
  /**
   * A kick runs the next tick no sooner than this after the previous one started, so a burst of
   * kicks (one per commit) becomes one tick per window that takes everything that arrived: a few
   * ms of latency for batches instead of a round of work per event. 0: at once.
   */
  coalesceMs?: number;
}

export function createPollingLoop({ name, log, intervalMs, tick, coalesceMs = 0 }: PollingLoopOptions): PollingLoop {
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: ((byStop?: boolean) => void) | undefined;
  // A kick that lands while a tick runs must not be lost: remember it and skip the next sleep.
  let kicked = false;

  /** Sleeps `ms`; a kick ends the sleep early only when `kickable`, stop() always does. */
  function sleep(ms: number, kickable: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = (byStop = false) => {
        if (!kickable && !byStop) return;
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });
  }

  async function run() {
    while (running) {
      let more = false;
      const started = Date.now();
      try {
        more = await tick();
      } catch (err) {
        log.error({ err }, `${name}.failed`);
      }
      if (!running) break;
      if (!more && !kicked) await sleep(intervalMs, true);
      if (!more && coalesceMs > 0 && running) {
        const wait = started + coalesceMs - Date.now();
        if (wait > 0) await sleep(wait, false);
      }
      kicked = false;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wake?.(true);
      await loop;
    },
    kick() {
      kicked = true;
      wake?.();
    },
  };
}
