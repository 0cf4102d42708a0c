// Turning Eden Treaty results from internal services into gateway responses: success bodies
// pass through typed; upstream problems keep their status and problem+json body; an
// unreachable service becomes a 503 problem instead of a stack trace.
import { AppError, type ProblemDetails, problemResponse, serviceUnavailable } from "@careforall/http";
import type { Logger } from "@careforall/log";
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

function asProblem(status: number, value: unknown): ProblemDetails {
  let body = value;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {}
  }
  if (body && typeof body === "object" && "status" in body && "title" in body) return body as ProblemDetails;
  return { type: "about:blank", title: "Upstream error", status, detail: "The request could not be completed" };
}

/**
 * Awaits an Eden call. Returns `data` on success (the route's own status code is set by the
 * caller's `status()`), throws a Response carrying the upstream problem otherwise.
 */
export async function call<T>(log: Logger, service: string, request: Promise<EdenResult<T>>): Promise<EdenResult<T>> {
  let result: EdenResult<T>;
  try {
    result = await request;
  } catch (err) {
    // An outage is expected operational weather (restarts, chaos): one line, no stack trace.
    log.warn({ service, reason: String((err as Error)?.message ?? err) }, "upstream.unreachable");
    throw serviceUnavailable(`The ${service} service is unavailable; try again shortly`);
  }
  if (result.error) {
    // Eden does not throw when the connection is refused or times out: it returns a synthetic
    // 503 with no response. That is an outage, not an upstream problem to pass through.
    if (!result.response) {
      const reason = result.error.value as { message?: string } | undefined;
      log.warn({ service, reason: String(reason?.message ?? reason) }, "upstream.unreachable");
      throw serviceUnavailable(`The ${service} service is unavailable; try again shortly`);
    }
    const problem = asProblem(result.error.status, result.error.value);
    if (result.error.status >= 500) log.warn({ service, status: result.error.status }, "upstream.error");
    throw new UpstreamProblem(problem, result.response.headers);
  }
  return result;
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
