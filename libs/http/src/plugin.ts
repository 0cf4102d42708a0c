// The Elysia plugin every service mounts: request ids, problem+json errors, body limit,
// security headers, request metrics, and the /health, /ready and /metrics endpoints.
import { type AccessLog, accessLogFor, enterLogContext, type Logger } from "@careforall/log";
import { classifyUnavailable, withDeadline } from "@careforall/resilience";
import { type Context, enterTraceContext, type Span, SpanStatusCode, startServerSpan } from "@careforall/telemetry";
import { Elysia, t } from "elysia";
import {
  AppError,
  badRequest,
  type FieldError,
  malformedBody,
  payloadTooLarge,
  problemResponse,
  serviceUnavailable,
} from "./errors";
import { createHttpMetrics, type HttpMetrics } from "./metrics";
import {
  callerAccepted,
  callerNotAccepted,
  recordCaller,
  SERVICE_TOKEN_HEADER,
  type ServiceIdentity,
} from "./service-identity";

export const BODY_LIMIT_BYTES = 64 * 1024;
/** Probes and scrapes: answered many times a minute, never worth an access line. */
const QUIET_ROUTES = new Set(["/health", "/ready", "/metrics"]);
const NO_TRACE = "00000000000000000000000000000000";
/** A readiness check that has not answered by then counts as down. */
const READY_CHECK_TIMEOUT_MS = 2_000;

// The headers that matter for an API origin: no MIME sniffing, no framing, no referrer leaks.
// (Document-only policies such as COOP or Permissions-Policy belong to the web app's HTML.)
export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * A dependency /ready checks: resolves (up) or throws / returns false (down). An `optional` one is
 * a dependency the service works without (degraded, e.g. Redis behind the gateway's fallbacks):
 * when it is down, /ready still answers 200, with status "degraded".
 */
export type ReadinessCheck = (() => Promise<unknown>) | { check: () => Promise<unknown>; optional: true };
export type ReadinessChecks = Record<string, ReadinessCheck>;

export interface HttpKitOptions {
  service: string;
  log: Logger;
  metrics?: HttpMetrics;
  /** Dependencies /ready checks; each resolves (up) or throws/returns false (down). */
  checks?: ReadinessChecks;
  bodyLimit?: number;
  /** Where the per-request lines go; by default the service logger's own access log (stdout). */
  accessLog?: AccessLog;
  /**
   * Who may call: `"public"` for the gateway (the public origin, which authenticates users itself),
   * or the service's identity — then every request but /health, /ready and /metrics must carry a
   * valid service credential for this service (401 otherwise), and every route must name its
   * callers with the `callers` option of `serviceCallers` (403 for anyone else, and for every caller
   * on a route that names none). Required: a service cannot boot without choosing.
   */
  trust: ServiceIdentity | "public";
}

// Minted ids are a per-process random prefix plus a counter: unique across processes and
// restarts, and far cheaper on the hot path than a UUID per request.
const PROCESS_PREFIX = `${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}-`;
let requestCounter = 0;

export function mintRequestId(): string {
  return PROCESS_PREFIX + ++requestCounter;
}

/** Picks the caller's request id when it is well-formed, else mints one. */
export function requestIdFor(request: Request): string {
  const incoming = request.headers.get("x-request-id");
  return incoming && REQUEST_ID.test(incoming) ? incoming : mintRequestId();
}

const startTimes = new WeakMap<Request, number>();
/** dependency.unavailable is logged at most this often per dependency (per process). */
const OUTAGE_LOG_INTERVAL_MS = 10_000;
const outageLoggedAt = new Map<string, number>();
const rawBodies = new WeakMap<Request, string>();

/**
 * The exact text of a JSON request body as received, for routes that must verify a signature
 * over the raw bytes (webhooks). Set by httpKit's JSON parser; undefined for other bodies.
 */
export function rawBody(request: Request): string | undefined {
  return rawBodies.get(request);
}
const spans = new WeakMap<Request, { span: Span; context: Context }>();

interface ValidationIssue {
  path?: string;
  message?: string;
  summary?: string;
  value?: unknown;
  schema?: Record<string, unknown>;
}

interface ValidationLike {
  type?: string;
  all?: ValidationIssue[];
  valueError?: ValidationIssue;
}

/** The values a schema allows when it is an enumeration (t.UnionEnum, a union of literals, a literal). */
function allowedValues(schema: Record<string, unknown> | undefined): string[] | null {
  if (!schema) return null;
  if (Array.isArray(schema.enum)) return schema.enum.map(String);
  const options = (schema.anyOf ?? schema.oneOf) as Array<Record<string, unknown>> | undefined;
  if (Array.isArray(options) && options.length > 0 && options.every((o) => o && "const" in o))
    return options.map((o) => String(o.const));
  if ("const" in schema) return [String(schema.const)];
  return null;
}

/** JSON types as a person says them. */
const TYPES: Record<string, string> = {
  string: "a string",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
};

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** What a string format expects, said so that a person can fix their input. */
const FORMATS: Record<string, string> = {
  email: "must be an email address, like name@example.com",
  uuid: "must be a UUID, like 01a240f0-b2a0-7239-9097-a79b7e6a6220",
  "date-time": "must be an ISO 8601 date-time with its time zone, like 2026-12-31T18:00:00Z",
  date: "must be a date, like 2026-12-31",
  uri: "must be an absolute URL",
};

/** One issue as a message that names the answer: the allowed values, the format, or what is missing. */
function issueMessage(issue: ValidationIssue, location: string | undefined): string {
  const schema = issue.schema;
  const description = typeof schema?.description === "string" ? `: ${schema.description}` : "";
  if (issue.value === undefined)
    return `${location === "headers" ? "This header is required" : "Required"}${description}`;
  const values = allowedValues(schema);
  if (values) return `Must be one of: ${values.join(", ")}`;
  const expected = schema?.type;
  if (typeof expected === "string" && TYPES[expected]) {
    const actual = jsonType(issue.value);
    if (actual !== expected && !(expected === "number" && actual === "integer")) return `Must be ${TYPES[expected]}`;
  }
  const format = typeof schema?.format === "string" ? FORMATS[schema.format] : undefined;
  if (format && typeof issue.value === "string") return format.charAt(0).toUpperCase() + format.slice(1);
  // Summaries can quote the submitted value ("… but found: hunter22"); never echo input back.
  const raw = String(issue.summary || issue.message || "Invalid value");
  const message = raw.replace(/\s*but found:[\s\S]*$/, "").replace(/\s*Found:[\s\S]*$/, "");
  // A pattern says little to a person; the field's description says what it is for.
  return typeof schema?.pattern === "string" ? `${message}${description}` : message;
}

/** Turns Elysia's validation error into `errors[]` with a readable dotted path per field. */
function validationErrors(error: ValidationLike): FieldError[] {
  const raw = error.all?.length ? error.all : error.valueError ? [error.valueError] : [];
  const seen = new Map<string, FieldError>();
  for (const e of raw) {
    const pointer = (e.path ?? "").replace(/^\//, "").replaceAll("/", ".");
    const path = pointer || (e.schema?.["x-name"] as string | undefined) || error.type || "body";
    if (!seen.has(path)) seen.set(path, { path, message: issueMessage(e, error.type) });
  }
  return [...seen.values()];
}

/**
 * Text no field accepts: NUL (U+0000), which PostgreSQL cannot store, and an unpaired surrogate
 * (half of a UTF-16 pair, e.g. "\ud800" in JSON), which is no character at all and which
 * PostgreSQL's JSON refuses. Anything else — any script, emoji, right-to-left, combining marks — is text.
 */
const unfitText = (text: string): boolean => text.includes("\u0000") || !text.isWellFormed();

/** The dotted path of the first string under `value` (keys included) that is unfit text, or null. */
export function unfitTextPath(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === "string") return unfitText(value) ? path : null;
  if (value === null || typeof value !== "object" || depth > 32) return null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unfitTextPath(item, `${path}.${i}`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    if (unfitText(key)) return path;
    const found = unfitTextPath(
      item,
      path === "body" || path === "query" || path === "params" ? key : `${path}.${key}`,
      depth + 1,
    );
    if (found) return found;
  }
  return null;
}

const Health = t.Object({ status: t.Literal("ok"), service: t.String(), pid: t.Integer() });
const Readiness = t.Object({
  status: t.UnionEnum(["ready", "degraded", "unavailable"]),
  service: t.String(),
  checks: t.Record(t.String(), t.UnionEnum(["up", "down"])),
});

/** The path of a request URL without parsing it whole (`http://host:port/path?query` → `/path`). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

export function httpKit(options: HttpKitOptions) {
  const { service, log, checks = {} } = options;
  const identity = options.trust === "public" ? null : options.trust;
  const metrics = options.metrics ?? createHttpMetrics(service);
  const bodyLimit = options.bodyLimit ?? BODY_LIMIT_BYTES;
  const access = options.accessLog ?? accessLogFor(log);

  return (
    new Elysia({ name: `careforall-http-${service}` })
      .decorate({ metrics })
      .onRequest(({ request, set }) => {
        startTimes.set(request, performance.now());
        const requestId = requestIdFor(request);
        // Continue the caller's trace (W3C traceparent), carrying the request id (span attribute
        // `request.id`, and `x-request-id` on every call and event it causes); activated in derive below.
        const path = pathOf(request.url);
        // Probes and scrapes are not traced: many a minute, never part of a donation.
        if (!QUIET_ROUTES.has(path))
          spans.set(
            request,
            startServerSpan(
              `${request.method} ${service}`,
              request.headers,
              { "http.request.method": request.method },
              requestId,
            ),
          );
        set.headers["x-request-id"] = requestId;
        Object.assign(set.headers, SECURITY_HEADERS);
        const length = request.headers.get("content-length");
        if (length !== null && Number(length) > bodyLimit) throw payloadTooLarge(bodyLimit);
        // Who calls, before anything else is read: an internal route answers only services.
        if (identity && !QUIET_ROUTES.has(path))
          return identity
            .verify(request.headers.get(SERVICE_TOKEN_HEADER))
            .then((caller) => void recordCaller(request, caller));
      })
      // Our own JSON parser: enforces the byte limit even without Content-Length (chunked
      // bodies) and maps malformed JSON to a 400 problem.
      .onParse({ as: "global" }, async ({ request, contentType }) => {
        if (!contentType?.startsWith("application/json")) return;
        const bytes = new Uint8Array(await request.arrayBuffer());
        if (bytes.byteLength > bodyLimit) throw payloadTooLarge(bodyLimit);
        if (bytes.byteLength === 0) throw malformedBody("The request body is empty");
        const text = new TextDecoder().decode(bytes);
        rawBodies.set(request, text);
        try {
          return JSON.parse(text);
        } catch {
          throw malformedBody("The request body is not valid JSON");
        }
      })
      .derive({ as: "global" }, ({ set, request }) => {
        const requestId = set.headers["x-request-id"] as string;
        // Activated here rather than in onRequest: this hook runs in the same async chain as
        // the handler, so the trace reaches upstream calls, outbox rows and log lines.
        const traced = spans.get(request);
        if (traced) enterTraceContext(traced.context);
        // Every line this request causes, wherever it is logged from, names the request (its trace
        // and span ids come from the active trace context; this covers a process without telemetry).
        enterLogContext({ requestId });
        return { requestId, log };
      })
      // One input rule for every route, after its schema: text must be well-formed Unicode without
      // NUL. Either would fail deep inside, in PostgreSQL, as a 500; here it is the client's 400,
      // naming the field.
      .onBeforeHandle({ as: "global" }, ({ body, query, params, request, route }) => {
        // A route that names no callers accepts none (the `callers` option ran in its transform).
        if (identity && !QUIET_ROUTES.has(route) && !callerAccepted(request))
          throw callerNotAccepted("This route accepts calls from no service");
        const where = unfitTextPath(params, "params") ?? unfitTextPath(query, "query") ?? unfitTextPath(body, "body");
        if (where)
          throw badRequest("Text must be well-formed Unicode without the NUL character (U+0000)", [
            { path: where, message: "Contains U+0000 or half of a surrogate pair, which no text field accepts" },
          ]);
      })
      .onError({ as: "global" }, ({ code, error, set, request, path }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(set.headers)) if (typeof v === "string") headers[k] = v;
        // Errors thrown by our body parser reach here wrapped in Elysia's ParseError.
        const appError =
          error instanceof AppError
            ? error
            : (error as Error)?.cause instanceof AppError
              ? (error as Error).cause
              : null;
        if (appError instanceof AppError) {
          if (appError.code === "service-credential") metrics.refused("credential");
          else if (appError.code === "caller-not-accepted") metrics.refused("caller");
          set.status = appError.status;
          return problemResponse(appError.toProblem(), { ...headers, ...appError.headers });
        }
        switch (code) {
          case "VALIDATION": {
            set.status = 400;
            const errors = validationErrors(error as unknown as ValidationLike);
            return problemResponse(
              {
                type: "https://careforall.dev/problems/validation",
                title: "Invalid request",
                status: 400,
                detail: errors.map((e) => `${e.path}: ${e.message}`).join("; "),
                errors,
              },
              headers,
            );
          }
          case "PARSE": {
            const problem = malformedBody("The body could not be parsed as the declared content type");
            set.status = 400;
            return problemResponse(problem.toProblem(), headers);
          }
          case "NOT_FOUND":
            set.status = 404;
            return problemResponse(
              {
                type: "https://careforall.dev/problems/not-found",
                title: "Not found",
                status: 404,
                detail: `No route for ${request.method} ${path}`,
              },
              headers,
            );
          default: {
            // A dependency that cannot be reached is weather, not a bug: 503 with Retry-After, and
            // one log line per dependency per interval, not one per request.
            const outage = classifyUnavailable(error);
            if (outage) {
              set.status = 503;
              const who = outage.dependency ?? "unreachable";
              const now = Date.now();
              if (now - (outageLoggedAt.get(who) ?? 0) >= OUTAGE_LOG_INTERVAL_MS) {
                outageLoggedAt.set(who, now);
                log.warn(
                  { err: error, dependency: outage.dependency, method: request.method, path },
                  "dependency.unavailable",
                );
              }
              const problem = serviceUnavailable(
                `A service this request needs is unavailable; retry in ${outage.retryAfterSeconds} s`,
                outage.retryAfterSeconds,
              );
              return problemResponse(problem.toProblem(), { ...headers, ...problem.headers });
            }
            // Anything else is our bug: log it whole, tell the client nothing internal.
            const status = code === "INVALID_COOKIE_SIGNATURE" ? 400 : 500;
            set.status = status;
            log.error({ err: error, code, method: request.method, path }, "request.failed");
            return problemResponse(
              {
                type: "https://careforall.dev/problems/internal",
                title: status === 500 ? "Internal server error" : "Invalid request",
                status,
                detail: status === 500 ? "Something went wrong on our side; it has been logged" : "Invalid request",
              },
              headers,
            );
          }
        }
      })
      .onAfterResponse({ as: "global" }, ({ request, route, set, response }) => {
        const started = startTimes.get(request);
        const elapsedMs = started === undefined ? 0 : performance.now() - started;
        const status = String(response instanceof Response ? response.status : (set.status ?? 200));
        const labels = { method: request.method, route: route || "unmatched", status };
        metrics.http.record(labels.method, labels.route, status, elapsedMs / 1000);
        const span = spans.get(request)?.span;
        if (access.enabled && !QUIET_ROUTES.has(labels.route)) {
          const sc = span?.spanContext();
          const traced = sc && sc.traceId !== NO_TRACE;
          access.record(
            labels.method,
            labels.route,
            Number(status),
            elapsedMs,
            String(set.headers["x-request-id"] ?? ""),
            traced ? sc.traceId : undefined,
            traced ? sc.spanId : undefined,
          );
        }
        if (span) {
          if (span.isRecording()) {
            span.updateName(`${request.method} ${labels.route}`);
            span.setAttributes({ "http.route": labels.route, "http.response.status_code": Number(status) });
            if (Number(status) >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        }
      })
      // The pid lets a launcher tell its own process from another one that answers on the same port.
      .get("/health", () => ({ status: "ok" as const, service, pid: process.pid }), {
        response: { 200: Health },
        detail: {
          operationId: "getHealth",
          tags: ["operations"],
          summary: "The process is up",
          description: "Answers as long as the process runs, whatever its dependencies do (a liveness probe).",
          security: [],
        },
      })
      .get(
        "/ready",
        async ({ set }) => {
          const results: Record<string, "up" | "down"> = {};
          let degraded = false;
          let unavailable = false;
          await Promise.all(
            Object.entries(checks).map(async ([name, entry]) => {
              const check = typeof entry === "function" ? entry : entry.check;
              const optional = typeof entry !== "function";
              try {
                const ok = await withDeadline(check(), READY_CHECK_TIMEOUT_MS, name);
                results[name] = ok === false ? "down" : "up";
              } catch {
                results[name] = "down";
              }
              if (results[name] === "down") {
                if (optional) degraded = true;
                else unavailable = true;
              }
            }),
          );
          set.status = unavailable ? 503 : 200;
          return { status: unavailable ? "unavailable" : degraded ? "degraded" : "ready", service, checks: results };
        },
        {
          response: { 200: Readiness, 503: Readiness },
          detail: {
            operationId: "getReadiness",
            tags: ["operations"],
            summary: "Whether its dependencies are reachable",
            description:
              "`checks` names each dependency `up` or `down`. `503` with status `unavailable` when one it cannot " +
              "work without is down; `200` with status `degraded` when only one it can do without is (Redis or " +
              "NATS behind their fallbacks), else `ready` (a readiness probe).",
            security: [],
          },
        },
      )
      .get(
        "/metrics",
        async ({ set }) => {
          set.headers["content-type"] = metrics.registry.contentType;
          return metrics.registry.metrics();
        },
        {
          response: { 200: t.String({ description: "Prometheus text exposition format 0.0.4" }) },
          detail: {
            operationId: "getMetrics",
            tags: ["operations"],
            summary: "Prometheus metrics",
            description:
              "Requests by route template, status and duration; bus, outbox and consumer lag; business gauges " +
              "(pledges by state, audit drift) — in the Prometheus text format.",
            security: [],
          },
        },
      )
  );
}
