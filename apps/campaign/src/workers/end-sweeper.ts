// Closes ended campaigns on a timer (END_SWEEP_INTERVAL_MS), batch after batch until none is due.
// Pledges are already refused from the end instant on (pledge checks endsAt itself); the sweep
// makes the campaign read `closed` everywhere, through the campaign.closed event.
import type { Logger } from "@careforall/log";
import type { EndedCampaignCloser } from "../ended-campaigns";

const BATCH = 100;

export function startEndSweeper(closer: EndedCampaignCloser, log: Logger, intervalMs: number): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      let closed = 0;
      let batch: number;
      do {
        batch = (await closer.closeEnded(BATCH)).length;
        closed += batch;
      } while (batch === BATCH);
      if (closed > 0) log.info({ closed }, "campaign.ended_closed");
    } catch (err) {
      log.warn({ err }, "campaign.end_sweep_failed");
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
