// Deletes Idempotency-Keys past their retention (at least 24 hours, the contract's promise), in
// small batches on a timer, so the table stays the size of one retention window.
import type { Logger } from "@careforall/log";
import type { PledgeService } from "../service";

export function startIdempotencySweeper(
  service: Pick<PledgeService, "pruneIdempotencyKeys">,
  log: Logger,
  intervalMs = 10 * 60_000,
): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      let deleted = 0;
      for (let batch = await service.pruneIdempotencyKeys(); batch > 0; batch = await service.pruneIdempotencyKeys())
        deleted += batch;
      if (deleted > 0) log.info({ deleted }, "idempotency.pruned");
    } catch (err) {
      log.warn({ err }, "idempotency.prune_failed");
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
