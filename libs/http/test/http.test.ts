import { describe, expect, test } from "bun:test";
import {
  AppError,
  authGuard,
  conflict,
  createHttpMetrics,
  createTokenVerifier,
  httpKit,
  IdParams,
  Int,
  ListQuery,
  rawBody,
  unfitTextPath,
} from "@careforall/http";
import { createAccessLog, createLogger, silentLogger } from "@careforall/log";
import { currentTraceId, initTelemetry, injectTraceHeaders } from "@careforall/telemetry";
import { Elysia, t } from "elysia";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import postgres from "postgres";

initTelemetry({ service: "http-test" });
const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const publicKeyPem = await exportSPKI(publicKey);
const issuer = "careforall-auth";

const sign = (claims: Record<string, unknown>, exp = "15m", key: CryptoKey = privateKey) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA" })
    .setSubject("user-1")
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);

let dbUp = true;
let cacheUp = true;
const metrics = createHttpMetrics("test");
const app = new Elysia()
  .use(
    httpKit({
      service: "test",
      log: silentLogger(),
      trust: "public",
      metrics,
      checks: { db: async () => dbUp, cache: { check: async () => cacheUp, optional: true } },
    }),
  )
  .use(authGuard(createTokenVerifier({ publicKeyPem, issuer })))
  .post("/things/:id", ({ body, params }) => ({ ...body, id: params.id }), {
    params: IdParams,
    body: t.Object({ count: Int({ minimum: 1, maximum: 10 }), name: t.String({ minLength: 1 }) }),
  })
  .get("/things", ({ query }) => query, { query: t.Object(ListQuery) })
  .get("/me", ({ principal }) => principal, { auth: true })
  .get("/admin", ({ principal }) => (principal.role === "admin" ? "ok" : "?"), { admin: true })
  .get("/maybe", ({ viewer }) => ({ principal: viewer }), { optionalAuth: true })
  .get("/conflict", () => {
    throw conflict("already there");
  })
  .get("/boom", () => {
    throw new Error("secret internal detail");
  })
  // A real query against a PostgreSQL that is not there (nothing listens on port 1).
  .get("/db-down", async () => {
    const sql = postgres("postgres://postgres@127.0.0.1:1/none", { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      return await sql`select 1`;
    } finally {
      await sql.end();
    }
  })
  .get("/rate", () => {
    throw new AppError({ status: 429, code: "rate-limited", title: "Too many", headers: { "retry-after": "7" } });
  })
  .get("/requestid", ({ requestId }) => ({ requestId }))
  .post("/raw", ({ request }) => ({ raw: rawBody(request) ?? null }), { body: t.Object({ a: t.Integer() }) })
  .get("/trace", async () => {
    const before = currentTraceId();
    await Bun.sleep(5);
    return { before, after: currentTraceId(), outgoing: injectTraceHeaders().traceparent };
  });

const call = (path: string, init: RequestInit = {}) => app.handle(new Request(`http://localhost${path}`, init));
const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers },
});
const ID = "0193e3f0-0000-7000-8000-000000000000";

async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = await res.json();
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(JSON.stringify(body)).not.toContain("at ");
  return body;
}

describe("validation messages name the answer, never echo the input", () => {
  const v = new Elysia()
    .use(httpKit({ service: "messages", log: silentLogger(), trust: "public" }))
    .get("/list", ({ query }) => query, { query: t.Object({ status: t.Optional(t.UnionEnum(["active", "closed"])) }) })
    .post("/give", ({ body }) => body, {
      headers: t.Object({ "idempotency-key": t.String({ minLength: 1, description: "One key per donation attempt" }) }),
      body: t.Object({
        currency: t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")]),
        email: t.String({ format: "email" }),
      }),
    });
  const give = (body: unknown, headers: Record<string, string> = { "idempotency-key": "k-1" }) =>
    v.handle(new Request("http://localhost/give", json(body, headers)));

  test("an enumeration lists its values", async () => {
    const status = await expectProblem(await v.handle(new Request("http://localhost/list?status=bogus")), 400);
    expect(status.errors).toEqual([{ path: "status", message: "Must be one of: active, closed" }]);
    const currency = await expectProblem(await give({ currency: "JPY", email: "a@example.com" }), 400);
    expect(currency.errors).toEqual([{ path: "currency", message: "Must be one of: BDT, USD, EUR" }]);
    expect(JSON.stringify(currency)).not.toContain("JPY");
  });
  test("a format says what it expects", async () => {
    const email = await expectProblem(await give({ currency: "BDT", email: "not-an-address" }), 400);
    expect(email.errors).toEqual([{ path: "email", message: "Must be an email address, like name@example.com" }]);
  });
  test("a missing header is named, with what it is for", async () => {
    const missing = await expectProblem(await give({ currency: "BDT", email: "a@example.com" }, {}), 400);
    expect(missing.errors).toEqual([
      { path: "idempotency-key", message: "This header is required: One key per donation attempt" },
    ]);
  });
});

describe("problem+json errors", () => {
  test("schema validation → 400 with errors[].path per field", async () => {
    const body = await expectProblem(await call(`/things/${ID}`, json({ count: 0 })), 400);
    const paths = body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(["count", "name"]);
  });
  test("messages never echo the submitted value", async () => {
    const body = await expectProblem(await call(`/things/${ID}`, json({ count: 1, name: 12345678 })), 400);
    expect(JSON.stringify(body)).not.toContain("12345678");
  });
  test("wrong-typed fields are not coerced", async () => {
    const body = await expectProblem(await call(`/things/${ID}`, json({ count: "5", name: "x" })), 400);
    expect(body.errors[0]).toEqual({ path: "count", message: "Must be a whole number" });
    const named = await expectProblem(await call(`/things/${ID}`, json({ count: 1, name: ["x"] })), 400);
    expect(named.errors[0]).toEqual({ path: "name", message: "Must be a string" });
  });
  test("invalid id in the path → 400", async () => {
    const body = await expectProblem(await call("/things/not-a-uuid", json({ count: 1, name: "x" })), 400);
    expect(body.errors[0].path).toBe("id");
  });
  test("NUL (U+0000) in any text → 400 naming the field, in the body, nested or in the query", async () => {
    const inName = await expectProblem(await call(`/things/${ID}`, json({ count: 1, name: "a\u0000b" })), 400);
    expect(inName.errors).toEqual([{ path: "name", message: expect.stringContaining("U+0000") }]);
    const inQuery = await expectProblem(await call("/things?cursor=%00"), 400);
    expect(inQuery.errors[0].path).toBe("cursor");
    // Other text passes untouched: Bengali, emoji, right-to-left, combining marks.
    const fine = await call(`/things/${ID}`, json({ count: 1, name: "রহিম 🌧️ مرحبا é" }));
    expect(fine.status).toBe(200);
    expect((await fine.json()).name).toBe("রহিম 🌧️ مرحبا é");
  });
  test("unfitTextPath finds the first NUL or unpaired surrogate, nested and in keys", () => {
    expect(unfitTextPath({ donor: { name: "x\u0000" } }, "body")).toBe("donor.name");
    expect(unfitTextPath({ events: [{ a: "ok" }, { b: "\u0000" }] }, "body")).toBe("events.1.b");
    expect(unfitTextPath({ "k\u0000": 1 }, "body")).toBe("body");
    expect(unfitTextPath({ message: "half \ud800 a pair" }, "body")).toBe("message");
    expect(unfitTextPath({ message: "\udc00" }, "body")).toBe("message");
    expect(unfitTextPath({ a: ["fine", 1, null, "👩🏽‍🚀 রহিম e\u0301"] }, "body")).toBeNull();
  });
  test("an unpaired surrogate in a JSON body (\\ud800) → 400 naming the field", async () => {
    const raw = '{"count":1,"name":"a\\ud800b"}';
    const body = await expectProblem(await call(`/things/${ID}`, json(raw)), 400);
    expect(body.errors).toEqual([{ path: "name", message: expect.stringContaining("surrogate") }]);
  });
  test("out-of-range query → 400 naming the parameter", async () => {
    const body = await expectProblem(await call("/things?limit=500"), 400);
    expect(body.errors[0].path).toBe("limit");
    expect((await call("/things?limit=5")).status).toBe(200);
  });
  test("the raw text of a JSON body stays available (for signature checks)", async () => {
    const text = '{ "a" :  1 }';
    const res = await call("/raw", json(text));
    expect(await res.json()).toEqual({ raw: text });
  });
  test("malformed JSON → 400", async () => {
    await expectProblem(await call(`/things/${ID}`, json("{bad")), 400);
  });
  test("unknown route → 404 problem", async () => {
    await expectProblem(await call("/nope"), 404);
  });
  test("AppError keeps its status and headers", async () => {
    await expectProblem(await call("/conflict"), 409);
    const res = await call("/rate");
    await expectProblem(res, 429);
    expect(res.headers.get("retry-after")).toBe("7");
  });
  test("unexpected errors → 500 without internals", async () => {
    const res = await call("/boom");
    const body = await expectProblem(res, 500);
    expect(JSON.stringify(body)).not.toContain("secret internal detail");
  });
  test("a database that cannot be reached → 503 with Retry-After, not 500, and no address leaked", async () => {
    const res = await call("/db-down");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      type: "https://careforall.dev/problems/unavailable",
      title: "Service unavailable",
      status: 503,
      detail: "A service this request needs is unavailable; retry in 2 s",
    });
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  });
  test("body over 64 KiB → 413", async () => {
    const big = JSON.stringify({ count: 1, name: "x".repeat(100 * 1024) });
    await expectProblem(await call(`/things/${ID}`, json(big)), 413);
  });
});

describe("request id and headers", () => {
  test("mints an X-Request-Id and echoes a well-formed one", async () => {
    const minted = await call("/health");
    expect(minted.headers.get("x-request-id")).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const echoed = await call("/requestid", { headers: { "x-request-id": "abc-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("abc-123");
    expect(await echoed.json()).toEqual({ requestId: "abc-123" });
    const forged = await call("/health", { headers: { "x-request-id": "bad id with spaces" } });
    expect(forged.headers.get("x-request-id")).not.toBe("bad id");
  });
  test("error responses carry the request id and security headers too", async () => {
    const res = await call("/nope", { headers: { "x-request-id": "r-404" } });
    expect(res.headers.get("x-request-id")).toBe("r-404");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("operations endpoints", () => {
  test("/health is always up; /ready reflects dependencies", async () => {
    expect((await call("/health")).status).toBe(200);
    expect((await call("/ready")).status).toBe(200);
    dbUp = false;
    const down = await call("/ready");
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "unavailable", checks: { db: "down" } });
    dbUp = true;
  });
  test("an optional dependency down → 200 degraded (the service works without it); with a required one down → 503", async () => {
    cacheUp = false;
    const degraded = await call("/ready");
    expect(degraded.status).toBe(200);
    expect(await degraded.json()).toMatchObject({ status: "degraded", checks: { db: "up", cache: "down" } });
    dbUp = false;
    const down = await call("/ready");
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "unavailable", checks: { db: "down", cache: "down" } });
    dbUp = true;
    cacheUp = true;
    expect(await (await call("/ready")).json()).toMatchObject({ status: "ready", checks: { db: "up", cache: "up" } });
  });
  test("/metrics exposes request counts and latency by route template", async () => {
    await call(`/things/${ID}`, json({ count: 1, name: "x" }));
    await Bun.sleep(5);
    const text = await (await call("/metrics")).text();
    expect(text).toContain('careforall_http_requests_total{method="POST",route="/things/:id",status="200"');
    expect(text).toContain("careforall_http_request_duration_seconds_bucket");
    expect(text).not.toContain(`route="/things/${ID}"`);
  });
  test("an app metric without the careforall_ prefix is refused when it is registered (issue 12 naming)", () => {
    const m = createHttpMetrics("naming");
    expect(() => m.counter("orders_total", "unprefixed")).toThrow(/careforall_/);
    expect(() => m.gauge("queue_depth", "unprefixed", () => 0)).toThrow(/careforall_/);
    expect(() => m.counter("careforall_Orders_total", "not snake_case")).toThrow(/snake_case/);
    m.counter("careforall_orders_total", "prefixed");
    m.gauge("careforall_queue_depth", "prefixed", () => 0);
    expect(m.registry.getMetricsAsArray().map((x) => x.name)).toEqual(
      expect.arrayContaining(["careforall_orders_total", "careforall_queue_depth"]),
    );
  });
});

describe("trace context", () => {
  test("a request continues the caller's trace, across awaits, and concurrent requests stay apart", async () => {
    const traceIds = ["0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"];
    const results = await Promise.all(
      traceIds.map(async (id) => {
        const res = await call("/trace", { headers: { traceparent: `00-${id}-b7ad6b7169203331-01` } });
        return (await res.json()) as { before: string; after: string; outgoing: string };
      }),
    );
    results.forEach((r, i) => {
      expect(r.before).toBe(traceIds[i]!);
      expect(r.after).toBe(traceIds[i]!);
      expect(r.outgoing).toContain(traceIds[i]!);
    });
  });

  test("without a traceparent a fresh trace starts", async () => {
    const body = (await (await call("/trace")).json()) as { before: string };
    expect(body.before).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("JWT guard", () => {
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  test("a missing token is refused before the body is validated (401, not 400)", async () => {
    const guarded = new Elysia()
      .use(httpKit({ service: "order", log: silentLogger(), trust: "public" }))
      .use(authGuard(createTokenVerifier({ publicKeyPem, issuer })))
      .post("/x", ({ body }) => body, { auth: true, body: t.Object({ n: Int() }) });
    const res = await guarded.handle(new Request("http://localhost/x", json({ n: "bad" })));
    await expectProblem(res, 401);
  });
  test("missing token → 401; valid token → principal", async () => {
    await expectProblem(await call("/me"), 401);
    const token = await sign({ email: "a@b.c", name: "A", role: "donor" });
    expect(await (await call("/me", bearer(token))).json()).toEqual({
      id: "user-1",
      email: "a@b.c",
      name: "A",
      role: "donor",
    });
  });
  test("expired token → 401", async () => {
    const token = await sign({ email: "a@b.c", role: "donor" }, "-1m");
    await expectProblem(await call("/me", bearer(token)), 401);
  });
  test("token signed by another key → 401", async () => {
    const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const token = await sign({ email: "a@b.c", role: "admin" }, "15m", other.privateKey);
    await expectProblem(await call("/me", bearer(token)), 401);
  });
  test("alg: none → 401", async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "x", email: "e@x.y", role: "admin", iss: issuer, exp })}.`;
    await expectProblem(await call("/admin", bearer(token)), 401);
  });
  test("HS256 signed with the public key as secret → 401", async () => {
    const token = await new SignJWT({ email: "e@x.y", role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("x")
      .setIssuer(issuer)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(publicKeyPem));
    await expectProblem(await call("/admin", bearer(token)), 401);
  });
  test("admin routes → 403 for donors, 200 for admins", async () => {
    await expectProblem(await call("/admin", bearer(await sign({ email: "a@b.c", role: "donor" }))), 403);
    expect((await call("/admin", bearer(await sign({ email: "a@b.c", role: "admin" })))).status).toBe(200);
  });
  test("optional auth gives null without a token, 401 with a bad one", async () => {
    expect(await (await call("/maybe")).json()).toEqual({ principal: null });
    await expectProblem(await call("/maybe", bearer("garbage")), 401);
  });
});

describe("request logs", () => {
  const lines: Array<Record<string, unknown>> = [];
  const chunks: string[] = [];
  const log = createLogger({ service: "logged", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  const accessLog = createAccessLog({ service: "logged", level: "info", sink: (c) => chunks.push(c) });
  const logged = new Elysia()
    .use(httpKit({ service: "logged", log, accessLog, trust: "public" }))
    .get("/work/:id", async ({ params }) => {
      await Bun.sleep(1);
      log.info({ step: "deep" }, "work.done"); // the service's own logger, not a request-scoped one
      return { id: params.id };
    });
  const parse = () => {
    accessLog.flush();
    const out = chunks.splice(0).join("").trimEnd();
    return out ? out.split("\n").map((l) => JSON.parse(l)) : [];
  };
  /** The access lines so far: Elysia runs afterResponse hooks after handle() resolves, so wait for `count`. */
  const access = async (count = 0) => {
    const got = parse();
    for (let i = 0; i < 200 && got.length < count; i++) {
      await Bun.sleep(5);
      got.push(...parse());
    }
    await Bun.sleep(20); // and nothing more comes
    got.push(...parse());
    return got;
  };

  test("one access line per request: method, route template, status, duration and request id", async () => {
    await access();
    await logged.handle(new Request(`http://localhost/work/${ID}`, { headers: { "x-request-id": "client-7" } }));
    await logged.handle(new Request("http://localhost/nowhere"));
    const got = await access(2);
    expect(got).toHaveLength(2);
    const [ok, missing] = got;
    expect(ok).toMatchObject({ msg: "request", method: "GET", route: "/work/:id", status: 200, requestId: "client-7" });
    expect(typeof ok.durationMs).toBe("number");
    expect(missing).toMatchObject({ status: 404, route: "unmatched", requestId: expect.any(String) });
  });

  test("every line the request causes carries its request id, wherever it is logged from", async () => {
    lines.length = 0;
    await logged.handle(new Request(`http://localhost/work/${ID}`, { headers: { "x-request-id": "client-8" } }));
    expect(lines.find((l) => l.msg === "work.done")).toMatchObject({ requestId: "client-8", step: "deep" });
  });

  test("every line carries the trace and span ids of the request's server span, as its access line does", async () => {
    await access();
    lines.length = 0;
    await logged.handle(new Request(`http://localhost/work/${ID}`, { headers: { "x-request-id": "client-9" } }));
    const [line] = await access(1);
    const done = lines.find((l) => l.msg === "work.done");
    expect(line).toMatchObject({ requestId: "client-9", traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(line?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(done).toMatchObject({ requestId: "client-9", traceId: line?.traceId, spanId: line?.spanId });
  });

  test("health, readiness and metrics scrapes are not logged", async () => {
    await access();
    for (const path of ["/health", "/ready", "/metrics"]) await logged.handle(new Request(`http://localhost${path}`));
    await logged.handle(new Request(`http://localhost/work/${ID}`)); // the marker: logged after the scrapes
    expect((await access(1)).map((l) => l.route)).toEqual(["/work/:id"]);
  });
});
