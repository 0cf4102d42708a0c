// Webhook retry delays: exponential from a base, capped, with "equal jitter" (half fixed, half
// random) so a receiver that comes back is not hit by every retry at once.
import type { Random } from "./faults";

/** Delay before the next attempt after `attempts` failed ones (1 = first failure). */
export function webhookBackoffMs(attempts: number, baseMs: number, maxMs: number, random: Random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
