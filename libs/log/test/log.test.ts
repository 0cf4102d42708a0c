import { describe, expect, test } from "bun:test";
import { createAccessLog, createLogger, withLogContext } from "@careforall/log";
import { initTelemetry, SpanKind, withRequestId, withSpan } from "@careforall/telemetry";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";

// Not recording: spans still have ids, which is what log lines carry.
initTelemetry({ service: "log-test" });

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (s: string) => lines.push(JSON.parse(s)) };
  return { lines, destination };
}

describe("createLogger", () => {
  test("stamps service and carries child bindings", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    log.child({ requestId: "r1", traceId: "t1" }).info({ userId: "u1" }, "user.registered");
    expect(lines[0]).toMatchObject({ service: "auth", requestId: "r1", traceId: "t1", userId: "u1", level: "info" });
  });

  test("redacts authorization, passwords, tokens and secrets at any depth", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    log.info({
      authorization: "Bearer abc",
      password: "hunter22",
      headers: { authorization: "Bearer x" },
      body: { password: "p", refreshToken: "r", accountSecret: "s" },
      accessToken: "a",
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ["Bearer abc", "hunter22", "Bearer x", '"p"', '"r"', '"s"', '"a"']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
  });

  test("respects the level", () => {
    const { lines, destination } = capture();
    createLogger({ service: "x", level: "warn", destination }).info("hidden");
    expect(lines).toHaveLength(0);
  });

  test("redaction leaves the caller's objects alone and censors child bindings and deep keys", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    const fields = {
      req: { headers: { authorization: "Bearer deep", host: "h" } },
      nested: { a: { b: { token: "t0k" } } },
    };
    log.child({ secret: "bound", requestId: "r2" }).info(fields, "x");
    const text = JSON.stringify(lines[0]);
    for (const secret of ["Bearer deep", "t0k", "bound"]) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ requestId: "r2", req: { headers: { host: "h", authorization: "[redacted]" } } });
    expect(fields.req.headers.authorization).toBe("Bearer deep");
  });
});

describe("log context", () => {
  test("every line logged inside withLogContext carries its fields, across awaits and modules", async () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "pledge", destination });
    const deep = async () => {
      await Bun.sleep(1);
      log.warn("bank.slow");
    };
    await withLogContext({ requestId: "req-42", traceId: "abc" }, async () => {
      log.info("pledge.accepted");
      await deep();
    });
    log.info("outside");
    expect(lines.map((l) => [l.msg, l.requestId, l.traceId])).toEqual([
      ["pledge.accepted", "req-42", "abc"],
      ["bank.slow", "req-42", "abc"],
      ["outside", undefined, undefined],
    ]);
  });

  test("one line's fields never stick to the lines after it, inside a context or outside", async () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    log.info({ userId: "u1" }, "admin.created");
    log.info("next");
    await withLogContext({ requestId: "req-7" }, async () => {
      log.info({ port: 1 }, "first");
      log.info("second");
    });
    expect(lines.map(({ msg, userId, port, requestId }) => ({ msg, userId, port, requestId }))).toEqual([
      { msg: "admin.created", userId: "u1", port: undefined, requestId: undefined },
      { msg: "next", userId: undefined, port: undefined, requestId: undefined },
      { msg: "first", userId: undefined, port: 1, requestId: "req-7" },
      { msg: "second", userId: undefined, port: undefined, requestId: "req-7" },
    ]);
  });
});

describe("trace ids on log lines", () => {
  test("a line logged inside a span carries the request id, trace id and that span's id; outside, none", async () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "payment", destination });
    const seen: Array<{ traceId?: string; spanId?: string }> = [];
    await withSpan(
      "pledge.created process",
      { kind: SpanKind.CONSUMER, parent: withRequestId(ROOT_CONTEXT, "req-9") },
      async () => {
        seen.push({ ...trace.getActiveSpan()?.spanContext() });
        log.info("payment.started");
        await withSpan("bank.authorize", {}, async () => {
          seen.push({ ...trace.getActiveSpan()?.spanContext() });
          await Bun.sleep(1);
          log.warn({ attempt: 2 }, "bank.slow");
        });
      },
    );
    log.info("idle");
    expect(lines.map(({ msg, requestId, traceId, spanId }) => ({ msg, requestId, traceId, spanId }))).toEqual([
      { msg: "payment.started", requestId: "req-9", traceId: seen[0]?.traceId, spanId: seen[0]?.spanId },
      { msg: "bank.slow", requestId: "req-9", traceId: seen[0]?.traceId, spanId: seen[1]?.spanId },
      { msg: "idle", requestId: undefined, traceId: undefined, spanId: undefined },
    ]);
    expect(seen[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("access log", () => {
  const line = ["GET", "/api/campaigns/:id", 200, 0.123456, "r-1"] as const;

  test("one JSON line per request, in the shape of every other line; written in chunks", () => {
    const chunks: string[] = [];
    const access = createAccessLog({ service: "gateway", level: "info", sink: (c) => chunks.push(c) });
    access.record(...line);
    access.record("GET", "/api/campaigns/:id", 304, 0.5, "r-2", "0af7651916cd43dd8448eb211c80319c");
    expect(chunks).toEqual([]); // buffered until a flush
    access.flush();
    const parsed = chunks
      .join("")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const common = { level: "info", time: expect.any(String), service: "gateway", msg: "request" };
    expect(parsed).toEqual([
      { ...common, method: "GET", route: "/api/campaigns/:id", status: 200, durationMs: 0.12, requestId: "r-1" },
      {
        ...common,
        method: "GET",
        route: "/api/campaigns/:id",
        status: 304,
        durationMs: 0.5,
        requestId: "r-2",
        traceId: "0af7651916cd43dd8448eb211c80319c",
      },
    ]);
    expect(Number.isNaN(Date.parse(parsed[0].time))).toBe(false);
  });

  test("a route with quotes is still one valid JSON line", () => {
    const chunks: string[] = [];
    const access = createAccessLog({ service: 'g"w', level: "info", sink: (c) => chunks.push(c) });
    access.record("GET", '/we"ird', 404, 1, "r-3");
    access.flush();
    expect(JSON.parse(chunks.join(""))).toMatchObject({ service: 'g"w', route: '/we"ird', status: 404 });
  });

  test("above info it writes nothing; a full buffer is written at once", () => {
    const quiet: string[] = [];
    const warn = createAccessLog({ service: "gateway", level: "warn", sink: (c) => quiet.push(c) });
    warn.record(...line);
    warn.flush();
    expect(warn.enabled).toBe(false);
    expect(quiet).toEqual([]);
    const chunks: string[] = [];
    const busy = createAccessLog({ service: "gateway", level: "info", sink: (c) => chunks.push(c) });
    for (let i = 0; i < 1_000; i++) busy.record(...line);
    expect(chunks.length).toBeGreaterThan(0);
  });
});
