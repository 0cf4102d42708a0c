// Reading Eden answers: a 2xx is ok, a definite 4xx is rejected with its problem body, and
// everything without a verdict (5xx, 408/429, no answer, a throw, a timeout) is unknown; checked
// on hand-built answers and on a real Eden client against a real server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EdenAnswer, fetchWithTimeout, readOutcome } from "@careforall/http";
import { initTelemetry, SpanKind, withRequestId, withSpan } from "@careforall/telemetry";
import { treaty } from "@elysiajs/eden";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { Elysia } from "elysia";

function answered(status: number, data: unknown, value?: unknown): Promise<EdenAnswer> {
  return Promise.resolve({
    data,
    error: value === undefined ? null : { status, value },
    status,
    response: new Response(null, { status }),
  });
}

const problem = { type: "https://careforall.dev/problems/payment-required", title: "Payment refused", status: 402 };

describe("readOutcome on Eden's answer shapes", () => {
  test("a 2xx is ok with its data, status and response (null data included)", async () => {
    const outcome = await readOutcome(() => answered(201, { id: "x" }));
    expect(outcome).toMatchObject({ kind: "ok", status: 201, data: { id: "x" } });
    expect(outcome.response).toBeInstanceOf(Response);
    expect(await readOutcome(() => answered(204, null))).toMatchObject({ kind: "ok", status: 204, data: null });
  });

  test.each([400, 401, 402, 403, 404, 409, 422, 499])("%d is rejected with its problem body", async (status) => {
    const outcome = await readOutcome(() => answered(status, null, { ...problem, status }));
    expect(outcome).toMatchObject({ kind: "rejected", status, body: { ...problem, status } });
    expect(outcome.response).toBeInstanceOf(Response);
  });

  test.each([408, 429, 500, 502, 503, 504, 302])("%d with an answer is unknown, body kept", async (status) => {
    const outcome = await readOutcome(() => answered(status, null, { title: "x", status }));
    expect(outcome).toMatchObject({ kind: "unknown", status, body: { title: "x", status } });
    expect(outcome.response).toBeInstanceOf(Response);
  });

  test("problem+json left as text by Eden is parsed; other text stays as it came", async () => {
    const parsed = await readOutcome(() => answered(402, null, JSON.stringify(problem)));
    expect(parsed).toMatchObject({ kind: "rejected", body: problem });
    const html = await readOutcome(() => answered(404, null, "<html>nope</html>"));
    expect(html).toMatchObject({ kind: "rejected", body: "<html>nope</html>" });
    // JSON text holding no object is not a body to read: it stays text.
    const scalar = await readOutcome(() => answered(400, null, "1e2"));
    expect(scalar).toMatchObject({ kind: "rejected", body: "1e2" });
  });

  test("the error's own status decides; the answer's status only when the error has none", async () => {
    const outcome = await readOutcome(() =>
      Promise.resolve({ data: null, error: { value: "x" }, status: 409, response: new Response(null) }),
    );
    expect(outcome).toMatchObject({ kind: "rejected", status: 409 });
  });

  test("Eden's synthetic 503 without a response is unknown, with the fetch failure as cause", async () => {
    const cause = new TypeError("ECONNREFUSED: Unable to connect");
    const outcome = await readOutcome(() =>
      Promise.resolve({ data: null, error: { status: 503, value: cause }, status: 503, response: undefined }),
    );
    expect(outcome).toEqual({ kind: "unknown", status: 503, response: undefined, cause });
  });

  test("a call that throws or rejects is unknown with no status, never a throw", async () => {
    const err = new Error("socket hang up");
    expect(await readOutcome(() => Promise.reject(err))).toEqual({
      kind: "unknown",
      status: undefined,
      response: undefined,
      cause: err,
    });
    const sync = await readOutcome((): Promise<EdenAnswer> => {
      throw err;
    });
    expect(sync).toMatchObject({ kind: "unknown", status: undefined, cause: err });
  });
});

describe("readOutcome and fetchWithTimeout over a real Eden client", () => {
  const problemHeaders = { "content-type": "application/problem+json" };
  const api = new Elysia()
    .get("/ok", () => ({ grant: "g-1" }))
    .get("/refused", () => new Response(JSON.stringify(problem), { status: 402, headers: problemHeaders }))
    .get("/broken", () => new Response(JSON.stringify({ ...problem, status: 503 }), { status: 503 }))
    .get("/slow", async () => {
      await Bun.sleep(2_000);
      return { late: true };
    })
    .post("/echo", ({ body, headers }) => ({ body, marker: headers["x-marker"] ?? null }))
    .get("/headers", ({ headers }) => ({ traceparent: headers.traceparent, requestId: headers["x-request-id"] }));
  let server: ReturnType<typeof Bun.serve>;
  let closedPort: number;

  beforeAll(() => {
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => api.handle(req) });
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    closedPort = closed.port as number;
    closed.stop(true);
  });
  afterAll(() => server?.stop(true));

  const client = (timeoutMs = 1_000) =>
    treaty<typeof api>(`http://127.0.0.1:${server.port}`, { fetcher: fetchWithTimeout(timeoutMs) });

  test("a 200 is ok with Eden's parsed data", async () => {
    const outcome = await readOutcome(() => client().ok.get());
    expect(outcome).toMatchObject({ kind: "ok", status: 200, data: { grant: "g-1" } });
  });

  test("a problem+json 402 is rejected with the parsed problem", async () => {
    const outcome = await readOutcome(() => client().refused.get());
    expect(outcome).toMatchObject({ kind: "rejected", status: 402, body: problem });
  });

  test("a 503 answer is unknown and keeps its response and body", async () => {
    const outcome = await readOutcome(() => client().broken.get());
    expect(outcome).toMatchObject({ kind: "unknown", status: 503, body: { ...problem, status: 503 } });
    expect(outcome.response?.status).toBe(503);
  });

  test("nobody listening is unknown without a response", async () => {
    const away = treaty<typeof api>(`http://127.0.0.1:${closedPort}`, { fetcher: fetchWithTimeout(1_000) });
    const outcome = await readOutcome(() => away.ok.get());
    expect(outcome).toMatchObject({ kind: "unknown", response: undefined });
  });

  test("a callee slower than the deadline is unknown without a response, well before it answers", async () => {
    const started = performance.now();
    const outcome = await readOutcome(() => client(100).slow.get());
    expect(outcome).toMatchObject({ kind: "unknown", response: undefined });
    expect(outcome.kind === "unknown" && !outcome.response ? String(outcome.cause) : "").toContain("Timeout");
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  test("fetchWithTimeout keeps the request's method, headers and body", async () => {
    const res = await fetchWithTimeout(1_000)(`http://127.0.0.1:${server.port}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-marker": "m-1" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ body: { a: 1 }, marker: "m-1" });
  });

  test("a call carries the trace context of a CLIENT span of the caller's trace, and the request id", async () => {
    // Recorded, so the CLIENT span exists (initTelemetry installs the propagators once per process).
    initTelemetry({ service: "client-test", recordSpans: true });
    let caller: { traceId?: string; spanId?: string } = {};
    const got = await withSpan(
      "GET /api/x",
      { kind: SpanKind.SERVER, parent: withRequestId(ROOT_CONTEXT, "req-c1") },
      async () => {
        caller = { ...trace.getActiveSpan()?.spanContext() };
        const res = await fetchWithTimeout(1_000, undefined, "echo")(`http://127.0.0.1:${server.port}/headers`);
        return (await res.json()) as { traceparent: string; requestId: string };
      },
    );
    const [, traceId, parentId] = got.traceparent.split("-");
    expect(traceId).toBe(caller.traceId);
    // The callee's parent is the CLIENT span, a child of the caller's span, not the caller's span itself.
    expect(parentId).toMatch(/^[0-9a-f]{16}$/);
    expect(parentId).not.toBe(caller.spanId);
    expect(got.requestId).toBe("req-c1");
  });

  test("fetchWithTimeout aborts a slow request with a TimeoutError", async () => {
    const err = await fetchWithTimeout(50)(`http://127.0.0.1:${server.port}/slow`).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error | null)?.name).toBe("TimeoutError");
  });
});
