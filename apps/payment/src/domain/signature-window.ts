// Rejected webhook signatures in a sliding window, and when they are worth an alarm: the failures
// of the last `windowMs` reaching `threshold` raise ONE alarm, then none until `windowMs` has
// passed since it (a sustained forgery run raises one per window, not one per failure). Pure, on
// the caller's clock; each payment replica keeps its own window.

export interface SignatureAlarm {
  /** Failures in the window when it crossed the threshold. */
  failures: number;
  firstAt: number;
  lastAt: number;
}

export interface SignatureWindowOptions {
  threshold: number;
  windowMs: number;
  /** Failure times kept at most (the oldest go first): a flood costs bounded memory. */
  maxKept?: number;
}

export function createSignatureWindow({ threshold, windowMs, maxKept = 10_000 }: SignatureWindowOptions) {
  const times: number[] = [];
  let alarmedAt: number | null = null;
  return {
    /** Records a rejected signature at `now`; the alarm to raise, or null. */
    record(now: number): SignatureAlarm | null {
      while (times.length > 0 && (times[0]! <= now - windowMs || times.length >= maxKept)) times.shift();
      times.push(now);
      if (times.length < threshold) return null;
      if (alarmedAt !== null && now - alarmedAt < windowMs) return null;
      alarmedAt = now;
      return { failures: times.length, firstAt: times[0]!, lastAt: now };
    },
  };
}
