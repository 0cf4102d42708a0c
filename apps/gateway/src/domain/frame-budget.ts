// How many frames one WebSocket may send: a token bucket (RATE a second, bursts up to BURST) whose
// refusals are `rate_limited` error frames, and an abuse meter behind it (ABUSE_FACTOR × RATE) that,
// once overrun, closes the socket (1008). Pure: time is passed in, so tests need no sleeping.

export interface FrameBudgetOptions {
  /** Frames a second a client may send for ever. */
  perSecond: number;
  /** Frames it may send at once after a quiet spell. */
  burst: number;
  /** Sustained sending at this many times `perSecond`, for `abuseWindowSeconds`, is abuse. */
  abuseFactor: number;
  abuseWindowSeconds: number;
}

export type FrameVerdict = "ok" | "rate_limited" | "abuse";

/** A token bucket: `capacity` tokens, refilled at `perSecond`; `take` spends one if there is one. */
class Bucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.at = now;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.perSecond);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One socket's budget. Every frame counts, refused ones too: the abuse meter is a second bucket
 * (ABUSE_FACTOR × RATE a second, holding that rate over the window plus the burst), so a client
 * that keeps sending three times faster than allowed — or dumps that many frames at once — is
 * cut off, while one that merely overshoots gets error frames and recovers.
 */
export function createFrameBudget(options: FrameBudgetOptions, now: number) {
  const rate = new Bucket(options.perSecond, options.burst, now);
  const abuseRate = options.perSecond * options.abuseFactor;
  const abuse = new Bucket(abuseRate, abuseRate * options.abuseWindowSeconds + options.burst, now);
  return {
    /** The verdict for one more frame arriving at `now` (ms). */
    take(at: number): FrameVerdict {
      if (!abuse.take(at)) return "abuse";
      return rate.take(at) ? "ok" : "rate_limited";
    },
  };
}

export type FrameBudget = ReturnType<typeof createFrameBudget>;
