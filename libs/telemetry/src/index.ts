// OpenTelemetry set-up and W3C trace-context propagation across HTTP hops and bus messages.
// Spans are recorded and exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise
// none is recorded, but propagation works either way, so a trace id follows a donation from
// gateway to bank. The request id travels with the trace context (header `x-request-id`, in HTTP
// calls and bus messages alike) and is set as `request.id` on every span started under it.
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  type Sampler,
  SamplingDecision,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type Span, type SpanContext };

/** The header (HTTP and bus message alike) that carries the request id beside `traceparent`. */
export const REQUEST_ID_HEADER = "x-request-id";
/** The span attribute naming the request a span belongs to. */
export const REQUEST_ID_ATTRIBUTE = "request.id";
const REQUEST_ID = /^[\w.:-]{1,128}$/;
const REQUEST_ID_KEY = createContextKey("careforall.request_id");

/** `ctx` carrying `requestId`: spans started under it get `request.id`, injected headers `x-request-id`. */
export function withRequestId(ctx: Context, requestId: string): Context {
  return ctx.setValue(REQUEST_ID_KEY, requestId);
}

/** The request id the (active) context carries, if any. */
export function requestIdOf(ctx: Context = context.active()): string | undefined {
  return ctx.getValue(REQUEST_ID_KEY) as string | undefined;
}

/** Writes and reads the request id beside the W3C headers (a safe id only: it reaches log lines unquoted). */
const requestIdPropagator = {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter) {
    const id = ctx.getValue(REQUEST_ID_KEY) as string | undefined;
    if (id) setter.set(carrier, REQUEST_ID_HEADER, id);
  },
  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, REQUEST_ID_HEADER);
    const id = Array.isArray(raw) ? raw[0] : raw;
    return id && REQUEST_ID.test(id) ? ctx.setValue(REQUEST_ID_KEY, id) : ctx;
  },
  fields: () => [REQUEST_ID_HEADER],
};

/** Sets `request.id` on every recorded span whose parent context carries one (wherever it is started). */
const requestIdProcessor: SpanProcessor = {
  onStart(span, parent) {
    const id = parent.getValue(REQUEST_ID_KEY) as string | undefined;
    if (id) span.setAttribute(REQUEST_ID_ATTRIBUTE, id);
  },
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

let provider: TracerProvider | undefined;
/**
 * Whether spans are recorded. Nothing receives spans without an endpoint: recording none saves the
 * attributes, events and end processing of every request and message, while trace ids are still
 * minted and propagated, so a donation's trace id follows it through logs and headers at almost
 * no cost. Switched on by the first initTelemetry that exports or asks for spans, whichever call
 * installed the provider — so several users of one process (the embedded profile's services, the
 * suites of one test run) cannot turn recording off for one another by coming first.
 */
let recording = false;
const sampler: Sampler = {
  shouldSample: () => ({ decision: recording ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }),
  toString: () => "CareForAllSampler",
};
let contextManager: AsyncLocalStorageContextManager | undefined;

export interface TelemetryOptions {
  service: string;
  /** Resource attribute `service.version` (the app's package version, or SERVICE_VERSION). */
  version?: string | undefined;
  /** Resource attribute `deployment.environment` (default "development"). */
  environment?: string | undefined;
  /** How long finished spans wait to be exported together (default OTEL_BSP_SCHEDULE_DELAY, else 5000 ms). */
  scheduledDelayMillis?: number | undefined;
  /** OTLP/HTTP base URL, e.g. http://localhost:4318. Unset: trace ids propagate, spans are not recorded. */
  endpoint?: string | undefined;
  /** Record spans even without an endpoint (tests that inspect them); default: only when exporting. */
  recordSpans?: boolean;
}

/** Installs the global tracer provider, context manager and propagator once per process. */
export function initTelemetry({
  service,
  version,
  environment,
  endpoint,
  recordSpans,
  scheduledDelayMillis,
}: TelemetryOptions): { shutdown(): Promise<void> } {
  if (recordSpans ?? Boolean(endpoint)) recording = true;
  if (!provider) {
    const spanProcessors: SpanProcessor[] = [requestIdProcessor];
    if (endpoint) {
      const delay = scheduledDelayMillis ?? Number(process.env.OTEL_BSP_SCHEDULE_DELAY ?? "");
      spanProcessors.push(
        new BatchSpanProcessor({
          // OTLP/HTTP with JSON bodies (this exporter's encoding), as any collector or Jaeger takes.
          exporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` }),
          ...(delay > 0 ? { scheduledDelayMillis: delay } : {}),
        }),
      );
    }
    provider = new TracerProvider({
      resource: resourceFromAttributes({
        "service.name": service,
        "service.version": version ?? "0.0.0",
        "deployment.environment": environment ?? "development",
      }),
      spanProcessors,
      sampler,
    });
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), requestIdPropagator] }),
    );
    trace.setGlobalTracerProvider(provider);
  }
  return {
    shutdown: async () => {
      await provider?.shutdown();
    },
  };
}

export function tracer(name = "careforall") {
  return trace.getTracer(name);
}

/**
 * Whether spans are recorded (an OTLP endpoint is set, or a test asked). Hot paths start their
 * spans only when it is true: a cached read pays one boolean test, not a span, when nothing exports.
 */
export function tracingEnabled(): boolean {
  return recording;
}

const NO_TRACE = "00000000000000000000000000000000";

/** What a log line says about the (active) context: its request id, trace id and span id. */
export interface TraceFields {
  requestId?: string;
  traceId?: string;
  spanId?: string;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a W3C `traceparent`; undefined for none, a malformed one or the all-zero id. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  const id = traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
  return id && id !== NO_TRACE ? id : undefined;
}
/** Per-process random halves: with a counter, ids unique across processes and restarts. */
const LIGHT_TRACE_PREFIX = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
const LIGHT_SPAN_PREFIX = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
let lightCounter = 0;

/**
 * Ids for a log line of a request that records no span (the cached read while nothing exports):
 * the caller's trace id when it sent a valid `traceparent`, else a fresh one; a fresh span id. A
 * per-process random half and a counter — a few string operations instead of a span, so every line
 * still carries a trace id and a span id that name this request alone.
 */
export function lightTraceIds(traceparent: string | null | undefined): { traceId: string; spanId: string } {
  const n = (++lightCounter).toString(16).padStart(16, "0");
  return {
    traceId: traceIdOf(traceparent) ?? LIGHT_TRACE_PREFIX + n,
    spanId: LIGHT_SPAN_PREFIX + n.slice(8),
  };
}

/** The request id, trace id and span id of the (active) context; undefined when it has none. */
export function traceFields(ctx: Context = context.active()): TraceFields | undefined {
  const requestId = ctx.getValue(REQUEST_ID_KEY) as string | undefined;
  const sc = trace.getSpan(ctx)?.spanContext();
  if (!sc || sc.traceId === NO_TRACE) return requestId ? { requestId } : undefined;
  return requestId ? { requestId, traceId: sc.traceId, spanId: sc.spanId } : { traceId: sc.traceId, spanId: sc.spanId };
}

const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Anything with a `get(name)` (Headers, NATS MsgHdrs) or a plain record. */
export type HeaderSource = { get(name: string): string | null | undefined } | Record<string, string | undefined>;

const sourceGetter: TextMapGetter<HeaderSource> = {
  get: (carrier, key) => {
    const value =
      typeof (carrier as { get?: unknown }).get === "function"
        ? (carrier as { get(name: string): string | null | undefined }).get(key)
        : (carrier as Record<string, string | undefined>)[key];
    return value ?? undefined;
  },
  keys: (carrier) =>
    typeof (carrier as { get?: unknown }).get === "function"
      ? ["traceparent", "tracestate", REQUEST_ID_HEADER]
      : Object.keys(carrier),
};

/** Writes `traceparent`/`tracestate` and `x-request-id` for the active (or given) context into a plain record. */
export function injectTraceHeaders(
  carrier: Record<string, string> = {},
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, carrier, recordSetter);
  return carrier;
}

/** Reads W3C trace context from headers; returns ROOT_CONTEXT's child when absent. */
export function extractTraceContext(source: HeaderSource, base: Context = ROOT_CONTEXT): Context {
  return propagation.extract(base, source, sourceGetter);
}

/**
 * The trace context for work done for several messages at once (a consumer's batch, a POST of
 * several webhooks), from each message's headers: when all of them belong to one trace the work
 * continues it (`shared`, `parent` = the first's context); otherwise it starts a trace of its own
 * (`parent` = the root). `links` are the contexts of the messages that carry a trace, for the
 * span to link to, so every message's trace stays followable.
 */
export function batchTraceContext(carriers: readonly HeaderSource[]): {
  parent: Context;
  links: Context[];
  shared: boolean;
} {
  const ids = carriers.map((c) => traceIdOf(sourceGetter.get(c, "traceparent") as string | undefined));
  const links: Context[] = [];
  carriers.forEach((c, i) => {
    if (ids[i]) links.push(extractTraceContext(c));
  });
  const shared = links.length > 0 && links.length === carriers.length && ids.every((id) => id === ids[0]);
  return { parent: shared ? (links[0] as Context) : ROOT_CONTEXT, links, shared };
}

/**
 * Makes `ctx` the active context for the rest of the current async chain. For framework hooks
 * that run before a handler but cannot wrap it (an HTTP server's on-request hook).
 */
export function enterTraceContext(ctx: Context): void {
  contextManager?.attach(ctx);
}

/**
 * Starts a server span continuing the caller's trace (from W3C headers); returns it with its
 * context. `requestId` (the one the server answers with) replaces whatever the headers carried.
 */
export function startServerSpan(
  name: string,
  headers: HeaderSource,
  attributes?: Attributes,
  requestId?: string,
): { span: Span; context: Context } {
  const extracted = extractTraceContext(headers);
  const parent = requestId ? withRequestId(extracted, requestId) : extracted;
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, ...(attributes ? { attributes } : {}) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

export function currentTraceId(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpan(ctx)?.spanContext();
  return sc && sc.traceId !== NO_TRACE ? sc.traceId : undefined;
}

/**
 * Whether spans are recorded and the (active) context belongs to a trace: work that is traced
 * only as a part of something (a database transaction) checks this, so background polls that
 * serve no request or event record nothing.
 */
export function inRecordedTrace(ctx: Context = context.active()): boolean {
  return recording && trace.getSpan(ctx) !== undefined;
}

/** The span id of the (active) context's span, if it has a valid one. */
export function currentSpanId(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpan(ctx)?.spanContext();
  return sc && sc.traceId !== NO_TRACE ? sc.spanId : undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  parent?: Context;
  attributes?: Attributes;
  /**
   * Contexts (e.g. from extractTraceContext) the span is causally linked to without being
   * their child: a batch consumer links to each message's trace. Contexts without a span are skipped.
   */
  links?: Context[];
}

function toLinks(contexts: Context[] | undefined): Link[] | undefined {
  if (!contexts) return undefined;
  const links: Link[] = [];
  for (const ctx of contexts) {
    const sc = trace.getSpanContext(ctx);
    if (sc && isSpanContextValid(sc)) links.push({ context: sc });
  }
  return links;
}

/**
 * Starts a span without making it active, for synchronous work the caller ends itself (a
 * WebSocket push, a cached read). Undefined when spans are not recorded, so such a path costs
 * nothing then.
 */
export function startSpan(name: string, options: SpanOptions = {}): Span | undefined {
  if (!recording) return undefined;
  return tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: toLinks(options.links) },
    options.parent ?? context.active(),
  );
}

/** The active context, to keep for work done later on its behalf (a queued write, a batch). */
export function activeContext(): Context {
  return context.active();
}

/** Runs `fn` with `ctx` active (e.g. a message's extracted context around its listeners). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** Marks `span` failed with `err` (recorded as an exception event). */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
}

/** Runs `fn` inside a new active span; records exceptions and ends the span either way. */
export async function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: toLinks(options.links) },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}
