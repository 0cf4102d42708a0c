import { describe, expect, test } from "bun:test";
import {
  currentTraceId,
  extractTraceContext,
  initTelemetry,
  injectTraceHeaders,
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
