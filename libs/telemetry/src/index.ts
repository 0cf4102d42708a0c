// OpenTelemetry set-up and W3C trace-context propagation across HTTP hops and bus messages.
// Spans are recorded and exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise
// none is recorded, but propagation works either way, so a trace id follows a donation from
// gateway to bank.
import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  type Sampler,
  SamplingDecision,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export { SpanKind, type Context, type Span };

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
  /** OTLP/HTTP base URL, e.g. http://localhost:4318. Unset: trace ids propagate, spans are not recorded. */
  endpoint?: string | undefined;
  /** Record spans even without an endpoint (tests that inspect them); default: only when exporting. */
  recordSpans?: boolean;
}

/** Installs the global tracer provider, context manager and propagator once per process. */
export function initTelemetry({ service, endpoint, recordSpans }: TelemetryOptions): { shutdown(): Promise<void> } {
  if (recordSpans ?? Boolean(endpoint)) recording = true;
  if (!provider) {
    const spanProcessors: SpanProcessor[] = [];
    if (endpoint) {
      spanProcessors.push(
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` }),
        }),
      );
    }
    provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": service }),
      spanProcessors,
      sampler,
    });
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
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
    typeof (carrier as { get?: unknown }).get === "function" ? ["traceparent", "tracestate"] : Object.keys(carrier),
};

/** Writes `traceparent`/`tracestate` for the active (or given) context into a plain record. */
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
 * Makes `ctx` the active context for the rest of the current async chain. For framework hooks
 * that run before a handler but cannot wrap it (an HTTP server's on-request hook).
 */
export function enterTraceContext(ctx: Context): void {
  contextManager?.attach(ctx);
}

/** Starts a server span continuing the caller's trace (from W3C headers); returns it with its context. */
export function startServerSpan(
  name: string,
  headers: HeaderSource,
  attributes?: Attributes,
): { span: Span; context: Context } {
  const parent = extractTraceContext(headers);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, ...(attributes ? { attributes } : {}) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

export function currentTraceId(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpan(ctx)?.spanContext();
  return sc && sc.traceId !== "00000000000000000000000000000000" ? sc.traceId : undefined;
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
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}
