// Telling "a dependency is down" apart from "our bug": an error that means the dependency could
// not be reached (an open breaker, a refused or dropped connection, PostgreSQL shutting down or
// starting up) is answered 503 with Retry-After, never 500. Recognised by shape, so this library
// needs none of the clients it classifies.
import { BreakerOpenError } from "./breaker";

export interface Unavailable {
  /** Named when the error says which (a breaker's dependency, PostgreSQL's own answer). */
  dependency?: string;
  retryAfterSeconds: number;
}

/** Network-level codes (Node/Bun sockets, postgres.js, ioredis) that mean "not reachable". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ConnectionRefused",
  "ConnectionClosed",
]);

/** PostgreSQL: class 08 (connection exception) and 57P01–57P03 (shutdown, crash, starting up). */
const PG_UNAVAILABLE = /^(08|57P0[1-3])/;

/** The default wait suggested to clients when the dependency gives no better hint. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

/**
 * A dependency that did not answer within its deadline (a hung server: the connection is open but
 * nothing comes back). The call may still complete later, so the caller must treat its outcome as
 * unknown: a 503 tells the client to retry, and an idempotent retry finds whatever happened.
 */
export class DependencyTimeoutError extends Error {
  override readonly name = "DependencyTimeoutError";
  constructor(
    readonly dependency: string,
    readonly afterMs: number,
  ) {
    super(`${dependency} did not answer within ${afterMs} ms`);
  }
}

/** `work`, or DependencyTimeoutError once `ms` have passed without its answer (which is then ignored). */
export async function withDeadline<T>(work: Promise<T>, ms: number, dependency: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeoutError(dependency, ms)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function classifyUnavailable(err: unknown, depth = 0): Unavailable | null {
  if (err === null || typeof err !== "object" || depth > 3) return null;
  if (err instanceof BreakerOpenError) return { dependency: err.dependency, retryAfterSeconds: err.retryAfterSeconds };
  if (err instanceof DependencyTimeoutError)
    return { dependency: err.dependency, retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS };
  const e = err as { code?: unknown; severity?: unknown; cause?: unknown };
  if (typeof e.code === "string") {
    // A code with a severity is PostgreSQL's own answer; without one it is the socket's.
    if (typeof e.severity === "string") {
      if (PG_UNAVAILABLE.test(e.code))
        return { dependency: "postgres", retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS };
    } else if (CONNECTION_CODES.has(e.code)) {
      return { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS };
    }
  }
  return e.cause !== undefined && e.cause !== err ? classifyUnavailable(e.cause, depth + 1) : null;
}
