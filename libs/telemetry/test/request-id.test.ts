// The request id travels with the trace context: injected as x-request-id beside traceparent,
// extracted on the other side (only a safe id), set as `request.id` on every recorded span started
// under it, and read back with the trace and span ids for log lines.
import { describe, expect, test } from "bun:test";
import {
  extractTraceContext,
  initTelemetry,
  injectTraceHeaders,
  requestIdOf,
  SpanKind,
  startSpan,
  traceFields,
  tracingEnabled,
  withRequestId,
  withSpan,
} from "@careforall/telemetry";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";

// Recorded: the spans' attributes are read back.
initTelemetry({ service: "request-id-test", recordSpans: true });

/** A recorded span's attributes (the SDK's span keeps them; the API type does not show them). */
const attributesOf = (span: unknown) => (span as { attributes: Record<string, unknown> }).attributes;

describe("request id in the trace context", () => {
  test("it crosses a hop beside traceparent and names every span on both sides", async () => {
    let sent: Record<string, string> = {};
    await withSpan(
      "POST /api/pledges",
      { kind: SpanKind.SERVER, parent: withRequestId(ROOT_CONTEXT, "req-1") },
      (span) => {
        expect(attributesOf(span)["request.id"]).toBe("req-1");
        sent = injectTraceHeaders();
      },
    );
    expect(sent["x-request-id"]).toBe("req-1");
    expect(sent.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const received = extractTraceContext(new Headers(sent));
    expect(requestIdOf(received)).toBe("req-1");
    await withSpan("pledge.created process", { kind: SpanKind.CONSUMER, parent: received }, async (span) => {
      await Bun.sleep(1);
      expect(attributesOf(span)["request.id"]).toBe("req-1");
      // A span started further down, any way, carries it too.
      await withSpan("db.transaction", {}, (inner) => {
        expect(attributesOf(inner)["request.id"]).toBe("req-1");
      });
      const pushed = startSpan("ws.push campaign");
      expect(pushed && attributesOf(pushed)["request.id"]).toBe("req-1");
      pushed?.end();
    });
  });

  test("an id that is not a safe token is not taken from a header", () => {
    for (const bad of ['x" injected', "a".repeat(200), ""]) {
      expect(requestIdOf(extractTraceContext({ "x-request-id": bad }))).toBeUndefined();
    }
    expect(requestIdOf(extractTraceContext({ "x-request-id": "abc-1.2:3_4" }))).toBe("abc-1.2:3_4");
  });

  test("traceFields names the request, the trace and the innermost span", async () => {
    expect(traceFields(ROOT_CONTEXT)).toBeUndefined();
    await withSpan("outer", { parent: withRequestId(ROOT_CONTEXT, "req-2") }, async () => {
      const outer = trace.getActiveSpan()?.spanContext();
      await withSpan("inner", {}, () => {
        const inner = trace.getActiveSpan()?.spanContext();
        expect(traceFields()).toEqual({ requestId: "req-2", traceId: outer?.traceId, spanId: inner?.spanId });
        expect(inner?.spanId).not.toBe(outer?.spanId);
      });
      expect(traceFields(context.active())?.spanId).toBe(outer?.spanId);
    });
  });

  test("spans are recorded once asked for", () => {
    expect(tracingEnabled()).toBe(true);
  });
});
