// Time as a dependency: services read "now" from an injected clock so expiry, backoff and
// rate-limit windows are testable without sleeping.
export interface Clock {
  now(): number;
  date(): Date;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  date: () => new Date(),
};

export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let current = start;
  return {
    now: () => current,
    date: () => new Date(current),
    advance(ms) {
      current += ms;
    },
    set(ms) {
      current = ms;
    },
  };
}
