// The calling side of service-to-service HTTP: one reading of an Eden Treaty answer as ok /
// rejected / unknown, and one fetch with a deadline, a CLIENT span and the trace context and
// request id on every call. Each caller keeps its own policy on top.
import { currentLogContext, type Logger } from "@careforall/log";
import { type Breaker, createBreaker } from "@careforall/resilience";
import { injectTraceHeaders, REQUEST_ID_HEADER, SpanKind, tracingEnabled, withSpan } from "@careforall/telemetry";

/** The part of an Eden Treaty answer read here (`response` is absent when no answer came back). */
export interface EdenAnswer {
  data: unknown;
  error: unknown;
  status: number;
  response?: Response | undefined;
}

/**
 * What one call came to:
 *   ok       — a 2xx answer (Eden's own verdict: no `error`); `data` as Eden parsed it, maybe null;
 *   rejected — a definite 4xx answer other than 408/429: the callee said no and did nothing;
 *   unknown  — no verdict: the callee answered 5xx, 408, 429 (or an error below 400), or no
 *              answer came back at all (`response` undefined: refused, reset, timed out).
 * `body` is the error answer's body, JSON text parsed (Eden leaves problem+json as text).
 */
export type EdenOutcome<T> =
  | { kind: "ok"; status: number; data: T; response: Response | undefined }
  | { kind: "rejected"; status: number; body: unknown; response: Response }
  | { kind: "unknown"; status: number; body: unknown; response: Response }
  | {
      kind: "unknown";
      /** Eden's synthetic status (503) for a failed fetch; undefined when the call itself threw. */
      status: number | undefined;
      response: undefined;
      /** The thrown error, or the fetch failure Eden reported. */
      cause: unknown;
    };

/** JSON text becomes the object it holds; anything else stays as it came. */
function parseBody(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === "object" ? parsed : value;
  } catch {
    return value;
  }
}

/** Awaits one Eden call and says what it came to; never throws. */
export async function readOutcome<R extends EdenAnswer>(call: () => Promise<R>): Promise<EdenOutcome<R["data"]>> {
  let result: R;
  try {
    result = await call();
  } catch (cause) {
    return { kind: "unknown", status: undefined, response: undefined, cause };
  }
  if (!result.error) return { kind: "ok", status: result.status, data: result.data, response: result.response };
  const error = result.error as { status?: unknown; value?: unknown };
  const status = typeof error.status === "number" ? error.status : result.status;
  // Eden does not throw when the connection is refused or times out: it answers a synthetic 503
  // with no response. That is an outage, not the callee's answer.
  if (!result.response) return { kind: "unknown", status, response: undefined, cause: error.value };
  const body = parseBody(error.value);
  if (isUnknownStatus(status)) return { kind: "unknown", status, body, response: result.response };
  return { kind: "rejected", status, body, response: result.response };
}

/**
 * An answer that says nothing about what the callee did: a 5xx, or 408 and 429 ("not now", not
 * "no": nothing was done and the call may be repeated), or anything below 400 that was not a success.
 */
export function isUnknownStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429 || status < 400;
}

/**
 * A breaker for one dependency that logs its transitions the same way everywhere: one
 * `dependency.down` (warn, with the failure that opened it) and one `dependency.up`.
 */
export function dependencyBreaker(
  name: string,
  log: Logger,
  {
    openMs,
    failureThreshold = 1,
    isFailure,
  }: { openMs: number; failureThreshold?: number; isFailure?: (err: unknown) => boolean },
): Breaker {
  return createBreaker({
    name,
    openMs,
    failureThreshold,
    ...(isFailure ? { isFailure } : {}),
    onChange: (state, cause) =>
      state === "open"
        ? log.warn({ dependency: name, err: cause }, "dependency.down")
        : log.info({ dependency: name }, "dependency.up"),
  });
}

/**
 * A fetcher whose calls go through `breaker`: a call that throws (refused, reset, timed out) counts
 * as a failure; any HTTP answer, 5xx included, counts as the service being there. While the breaker
 * is open the call fails at once with BreakerOpenError, which Eden reports like any failed fetch.
 */
export function breakerFetch(fetcher: typeof fetch, breaker: Breaker): typeof fetch {
  return ((input: RequestInfo | URL, init?: RequestInit) => breaker.run(() => fetcher(input, init))) as typeof fetch;
}

const PROBES = new Set(["/health", "/ready", "/metrics"]);

/**
 * A fetch that gives up after `timeoutMs` (an unknown outcome for the caller, never a hang).
 * `base` is what reaches the other side (default the network; the embedded profile passes an
 * in-process one). Every call carries the trace context (`traceparent`) and the request id of what
 * is being handled; while spans are recorded each call is a CLIENT span named after `peer` (the
 * service called), whose context the callee continues.
 */
export function fetchWithTimeout(timeoutMs: number, base?: typeof fetch, peer?: string): typeof fetch {
  const send = (input: RequestInfo | URL, init: RequestInit | undefined, headers: Headers) =>
    (base ?? fetch)(input, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
  return ((input: RequestInfo | URL, init?: RequestInit) => {
    // Headers given in init replace a Request's own: start from whichever the call has.
    const given = init?.headers ?? (input instanceof Request ? input.headers : undefined);
    if (!tracingEnabled()) return send(input, init, callHeaders(given, false));
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const url = new URL(input instanceof Request ? input.url : String(input));
    // Probes are not traced (their server side records no span either).
    if (PROBES.has(url.pathname)) return send(input, init, callHeaders(given, false));
    return withSpan(
      `${method} ${peer ?? url.host}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "http.request.method": method,
          "url.path": url.pathname,
          "server.address": url.hostname,
          ...(url.port ? { "server.port": Number(url.port) } : {}),
          ...(peer ? { "peer.service": peer } : {}),
        },
      },
      async (span) => {
        const res = await send(input, init, callHeaders(given, true));
        span.setAttribute("http.response.status_code", res.status);
        return res;
      },
    );
  }) as typeof fetch;
}

/**
 * The headers of a call to another service: the request id of the request being handled (unless
 * the caller set one), so the callee's log lines carry it too and one id follows a request through
 * every service it reaches; and the trace context — the CLIENT span's (`replaceTrace`), else the
 * caller's own unless it set one.
 */
function callHeaders(headers: HeadersInit | undefined, replaceTrace: boolean): Headers {
  const merged = new Headers(headers);
  const trace = injectTraceHeaders();
  for (const [name, value] of Object.entries(trace)) {
    if (name === REQUEST_ID_HEADER ? !merged.has(name) : replaceTrace || !merged.has(name)) merged.set(name, value);
  }
  if (!merged.has(REQUEST_ID_HEADER)) {
    const requestId = currentLogContext()?.requestId;
    if (requestId) merged.set(REQUEST_ID_HEADER, requestId);
  }
  return merged;
}

/**
 * The fetcher for one dependency: every call times out after `timeoutMs`, and after
 * `failureThreshold` failed calls in a row the dependency is not called for `openMs` (calls fail at
 * once with BreakerOpenError; the transitions are logged once each).
 */
export function guardedFetch(
  name: string,
  log: Logger,
  { timeoutMs, openMs, failureThreshold }: { timeoutMs: number; openMs: number; failureThreshold: number },
  base?: typeof fetch,
): typeof fetch {
  return breakerFetch(
    fetchWithTimeout(timeoutMs, base, name),
    dependencyBreaker(name, log, { openMs, failureThreshold }),
  );
}
