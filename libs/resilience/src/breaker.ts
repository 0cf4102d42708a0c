// A circuit breaker per dependency. Closed: calls go through. A failure opens it: for `openMs`
// every call is refused at once with BreakerOpenError (which says when to try again), so no request
// waits on a dependency that is down. Then one trial call goes through (half-open): success closes
// it, failure opens it for another `openMs`. Transitions are reported once each (`onChange`), so an
// outage is one log line and one metric change, not one per request.
import { type Clock, systemClock } from "@careforall/config";

export type BreakerState = "closed" | "open";

/** Refused without calling the dependency: it failed moments ago. */
export class BreakerOpenError extends Error {
  override readonly name = "BreakerOpenError";
  constructor(
    readonly dependency: string,
    /** Until the next trial call may go through. */
    readonly retryAfterMs: number,
  ) {
    super(`${dependency} is unavailable (circuit open; next try in ${retryAfterMs} ms)`);
  }

  /** The Retry-After value to send: whole seconds, at least 1. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

export interface BreakerOptions {
  /** The dependency, for errors and logs. */
  name: string;
  /** How long calls are refused after a failure before one trial goes through. */
  openMs: number;
  clock?: Clock;
  /** Whether an error means the dependency is unavailable (default: every error does). */
  isFailure?: (err: unknown) => boolean;
  /**
   * Consecutive failures that open it (default 1). A success resets the count. More than one
   * keeps a single dropped connection from refusing everybody for `openMs`.
   */
  failureThreshold?: number;
  /** Called on each transition: "open" when it starts refusing, "closed" when a call succeeds again. */
  onChange?: (state: BreakerState, cause?: unknown) => void;
}

export interface Breaker {
  run<T>(call: () => Promise<T>): Promise<T>;
  state(): BreakerState;
  /** Milliseconds until a trial may go through (0 when closed). */
  retryAfterMs(): number;
}

export function createBreaker(options: BreakerOptions): Breaker {
  const { name, openMs, clock = systemClock, isFailure = () => true, onChange, failureThreshold = 1 } = options;
  let state: BreakerState = "closed";
  let openUntil = 0;
  let trialRunning = false;
  let failures = 0;

  const retryAfterMs = () => (state === "closed" ? 0 : Math.max(0, openUntil - clock.now()));

  return {
    state: () => state,
    retryAfterMs,
    async run(call) {
      let trial = false;
      if (state === "open") {
        if (trialRunning || clock.now() < openUntil)
          throw new BreakerOpenError(name, Math.max(retryAfterMs(), trialRunning ? openMs : 0));
        trial = true;
        trialRunning = true;
      }
      try {
        const result = await call();
        failures = 0;
        if (state === "open") {
          state = "closed";
          onChange?.("closed");
        }
        return result;
      } catch (err) {
        if (isFailure(err)) {
          failures++;
          // A failed trial re-opens at once; a closed breaker opens at the threshold.
          if (state === "open" || failures >= failureThreshold) {
            openUntil = clock.now() + openMs;
            if (state === "closed") {
              state = "open";
              onChange?.("open", err);
            }
          }
        }
        throw err;
      } finally {
        if (trial) trialRunning = false;
      }
    },
  };
}
