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
}

export function createPollingLoop({ name, log, intervalMs, tick }: PollingLoopOptions): PollingLoop {
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  // A kick that lands while a tick runs must not be lost: remember it and skip the next sleep.
  let kicked = false;

  async function run() {
    while (running) {
      let more = false;
      try {
        more = await tick();
      } catch (err) {
        log.error({ err }, `${name}.failed`);
      }
      if (!running) break;
      if (!more && !kicked) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
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
      wake?.();
      await loop;
    },
    kick() {
      kicked = true;
      wake?.();
    },
  };
}
