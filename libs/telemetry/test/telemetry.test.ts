import { describe, expect, test } from "bun:test";
import {
  currentTraceId,
  extractTraceContext,
  initTelemetry,
  injectTraceHeaders,
  lightTraceIds,
  SpanKind,
  withSpan,
} from "@careforall/telemetry";

initTelemetry({ service: "telemetry-test" });

describe("trace context propagation", () => {
  test("a span's context survives awaits and is injected as traceparent", async () => {
    await withSpan("outer", { kind: SpanKind.SERVER }, async () => {
      const id = currentTraceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await Bun.sleep(1);
      expect(currentTraceId()).toBe(id);
      const headers = injectTraceHeaders();
      expect(headers.traceparent).toContain(id as string);
    });
  });

  test("a receiver continues the sender's trace from headers (HTTP Headers or a record)", async () => {
    let sent: Record<string, string> = {};
    let senderTrace: string | undefined;
    await withSpan("send", { kind: SpanKind.PRODUCER }, () => {
      senderTrace = currentTraceId();
      sent = injectTraceHeaders();
    });
    for (const source of [sent, new Headers(sent)]) {
      const parent = extractTraceContext(source);
      await withSpan("receive", { kind: SpanKind.CONSUMER, parent }, () => {
        expect(currentTraceId()).toBe(senderTrace);
      });
    }
  });

  test("no incoming context starts a fresh trace", async () => {
    await withSpan("fresh", { parent: extractTraceContext({}) }, () => {
      expect(currentTraceId()).toMatch(/^[0-9a-f]{32}$/);
    });
  });

  test("errors are recorded and rethrown", async () => {
    await expect(withSpan("boom", {}, () => Promise.reject(new Error("x")))).rejects.toThrow("x");
  });
});

describe("lightTraceIds (the cached read's log line while nothing records)", () => {
  test("fresh ids per call, well-formed; a valid caller's trace id is kept, anything else replaced", () => {
    const a = lightTraceIds(null);
    const b = lightTraceIds(undefined);
    for (const ids of [a, b]) {
      expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ids.spanId).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.spanId).not.toBe(b.spanId);
    const caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(lightTraceIds(`00-${caller}-00f067aa0ba902b7-01`).traceId).toBe(caller);
    for (const bad of [
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      "garbage",
      `00-${caller.toUpperCase()}-00f067aa0ba902b7-01`,
    ])
      expect(lightTraceIds(bad).traceId).not.toBe(caller);
  });
});
