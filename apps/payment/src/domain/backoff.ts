// Retry spacing after an unknown bank outcome: the n-th consecutive failure waits delays[n-1]
// (the last delay repeats), so a bank outage is probed gently rather than hammered.

/** Delay in ms before the next attempt, given how many attempts already failed (≥ 1). */
export function retryDelay(failedAttempts: number, delays: readonly number[]): number {
  if (delays.length === 0) return 1000;
  const index = Math.min(Math.max(failedAttempts, 1), delays.length) - 1;
  return delays[index] ?? delays[delays.length - 1] ?? 1000;
}
