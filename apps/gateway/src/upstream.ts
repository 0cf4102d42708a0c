// Turning Eden Treaty results from internal services into gateway responses: success bodies
// pass through typed; upstream problems keep their status and problem+json body; an
// unreachable service becomes a 503 problem instead of a stack trace.
import { AppError, type ProblemDetails, problemResponse, readOutcome, serviceUnavailable } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { BreakerOpenError } from "@careforall/resilience";
import { injectTraceHeaders } from "@careforall/telemetry";

interface EdenError {
  status: number;
  value: unknown;
}

export interface EdenResult<T> {
  data: T;
  error: EdenError | null;
  status: number;
  /** Absent when the request never got an answer: Eden reports a failed fetch as status 503. */
  response: Response | undefined;
}

/** Headers every upstream call carries: request id, trace context, and the caller's token. */
export function upstreamHeaders(requestId: string, authorization?: string | null): Record<string, string> {
  const headers = injectTraceHeaders({ "x-request-id": requestId });
  if (authorization) headers.authorization = authorization;
  return headers;
}

function asProblem(status: number, body: unknown): ProblemDetails {
  if (body && typeof body === "object" && "status" in body && "title" in body) return body as ProblemDetails;
  return { type: "about:blank", title: "Upstream error", status, detail: "The request could not be completed" };
}

/**
 * Awaits an Eden call. Returns `data` on success (the route's own status code is set by the
 * caller's `status()`), throws a Response carrying the upstream problem otherwise.
 */
export async function call<T>(log: Logger, service: string, request: Promise<EdenResult<T>>): Promise<EdenResult<T>> {
  const outcome = await readOutcome(() => request);
  if (outcome.kind === "ok")
    return { data: outcome.data, error: null, status: outcome.status, response: outcome.response };
  if (!outcome.response) {
    // Refused at once by the service's breaker (it failed moments ago): the transition was logged
    // once; the client is told when the next try may go through.
    if (outcome.cause instanceof BreakerOpenError)
      throw serviceUnavailable(
        `The ${service} service is unavailable; try again shortly`,
        outcome.cause.retryAfterSeconds,
      );
    // An outage is expected operational weather (restarts, chaos): one line, no stack trace.
    const cause = outcome.cause as { message?: unknown } | undefined;
    log.warn({ service, reason: String(cause?.message ?? cause) }, "upstream.unreachable");
    throw serviceUnavailable(`The ${service} service is unavailable; try again shortly`);
  }
  // Every answer passes through as it came, refusals and upstream failures alike.
  if (outcome.status >= 500) log.warn({ service, status: outcome.status }, "upstream.error");
  throw new UpstreamProblem(asProblem(outcome.status, outcome.body), outcome.response.headers);
}

/** Upstream headers that belong to the client's answer, errors included (a replayed 402 is still a replay). */
const PASSTHROUGH_HEADERS = ["retry-after", "www-authenticate", "idempotent-replayed"] as const;

/** An upstream's problem, re-thrown as-is through the gateway's error plugin. */
export class UpstreamProblem extends AppError {
  constructor(problem: ProblemDetails, headers: Headers) {
    const passthrough: Record<string, string> = {};
    for (const name of PASSTHROUGH_HEADERS) {
      const value = headers.get(name);
      if (value) passthrough[name] = value;
    }
    const { type, title, status, detail, errors, ...extensions } = problem;
    super({
      status,
      code: "upstream",
      title,
      ...(detail !== undefined ? { detail } : {}),
      ...(errors ? { errors } : {}),
      headers: passthrough,
      extensions,
    });
    this.problemType = type;
  }
  readonly problemType: string;
  override toProblem(): ProblemDetails {
    return { ...super.toProblem(), type: this.problemType };
  }
}

export { problemResponse };
