// Runs the stuck-pledge sweep on the shared polling loop (a failed sweep is logged and the next
// one tries again; stop waits for the sweep in progress).
import type { Logger } from "@careforall/log";
import { createPollingLoop, type PollingLoop } from "@careforall/worker";
import type { StuckSweep } from "../stuck-pledges";

export function startStuckSweeper(sweep: StuckSweep, log: Logger, intervalMs: number): PollingLoop {
  const loop = createPollingLoop({
    name: "notification.stuck_sweep",
    log,
    intervalMs,
    async tick() {
      const { stored, more } = await sweep();
      if (stored.length > 0) log.info({ reported: stored.length }, "notification.pledges_stuck");
      return more;
    },
  });
  loop.start();
  return loop;
}
