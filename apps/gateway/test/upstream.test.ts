// Turning Eden results into gateway outcomes: data passes through, upstream problems keep their
// status, type and safe headers, and an unreachable service is a 503 problem, never a crash.
import { describe, expect, test } from "bun:test";
import { AppError, breakerFetch, serviceUnavailable } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { createBreaker } from "@careforall/resilience";
import { treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import { call, type EdenResult, UpstreamProblem, upstreamHeaders } from "../src/upstream";

const log = silentLogger();

function answered<T>(status: number, data: T, error: unknown = null, headers: Record<string, string> = {}) {
  return Promise.resolve({
    data,
    error: error === null ? null : { status, value: error },
    status,
    response: new Response(null, { status, headers }),
  } as EdenResult<T>);
}

/** What Eden 1.4 returns when fetch itself fails (refused, reset, timed out). */
function unreachable(): Promise<EdenResult<null>> {
  const cause = Object.assign(new TypeError("ECONNREFUSED: Unable to connect"), { code: "ECONNREFUSED" });
  return Promise.resolve({ data: null, error: { status: 503, value: cause }, status: 503, response: undefined });
}

async function thrown(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected an AppError");
}

describe("call", () => {
  test("success returns the result unchanged", async () => {
    const result = await call(log, "auth", answered(200, { ok: true }));
    expect(result.data).toEqual({ ok: true });
  });

  test("an upstream problem keeps its status, type, title, detail and errors", async () => {
    const problem = {
      type: "https://careforall.dev/problems/email-taken",
      title: "Conflict",
      status: 409,
      detail: "An account with this email already exists",
    };
    const err = await thrown(call(log, "auth", answered(409, null, problem)));
    expect(err).toBeInstanceOf(UpstreamProblem);
    expect(err.status).toBe(409);
    expect(err.toProblem()).toEqual(problem);
  });

  test("a problem that arrives as text (problem+json is not parsed by Eden) is parsed", async () => {
    const problem = { type: "https://careforall.dev/problems/forbidden", title: "Forbidden", status: 403 };
    const err = await thrown(call(log, "campaign", answered(403, null, JSON.stringify(problem))));
    expect(err.toProblem()).toMatchObject(problem);
  });

  test("extension members and field errors pass through", async () => {
    const problem = {
      type: "https://careforall.dev/problems/validation",
      title: "Invalid request",
      status: 400,
      errors: [{ path: "endsAt", message: "Must be in the future" }],
      campaignId: "c-1",
    };
    const err = await thrown(call(log, "campaign", answered(400, null, problem)));
    expect(err.toProblem()).toMatchObject(problem);
  });

  test("Retry-After and WWW-Authenticate are passed on, other upstream headers are not", async () => {
    const problem = { type: "about:blank", title: "Too many", status: 429 };
    const err = await thrown(
      call(
        log,
        "auth",
        answered(429, null, problem, { "retry-after": "12", "www-authenticate": "Bearer", "set-cookie": "x=1" }),
      ),
    );
    expect(err.headers).toEqual({ "retry-after": "12", "www-authenticate": "Bearer" });
  });

  test("a non-problem error body becomes a generic problem with the upstream status", async () => {
    const err = await thrown(call(log, "auth", answered(502, null, "<html>Bad gateway</html>")));
    expect(err.toProblem()).toMatchObject({ status: 502, title: "Upstream error" });
    expect(JSON.stringify(err.toProblem())).not.toContain("<html>");
  });

  test("an unreachable service (Eden's synthetic 503 without a response) → 503 problem", async () => {
    const err = await thrown(call(log, "campaign", unreachable()));
    expect(err.status).toBe(503);
    expect(err.toProblem()).toMatchObject({ title: serviceUnavailable("x").title, status: 503 });
    expect(JSON.stringify(err.toProblem())).not.toContain("ECONNREFUSED");
  });

  test("a rejected request promise → 503 problem", async () => {
    const err = await thrown(call(log, "auth", Promise.reject(new Error("socket hang up"))));
    expect(err.status).toBe(503);
  });
});

describe("upstreamHeaders", () => {
  test("carries the request id and the caller's authorization, nothing else from the client", () => {
    const headers = upstreamHeaders("req-1", "Bearer abc");
    expect(headers["x-request-id"]).toBe("req-1");
    expect(headers.authorization).toBe("Bearer abc");
    expect(upstreamHeaders("req-2").authorization).toBeUndefined();
  });
});

describe("an upstream behind a breaker (a real Eden client over a real socket)", () => {
  test("after the threshold of failed calls it is refused without calling: 503 with the breaker's Retry-After", async () => {
    let served = 0;
    const app = new Elysia().get("/ping", () => {
      served++;
      return { ok: true };
    });
    const server = app.listen({ port: 0, hostname: "127.0.0.1" });
    const port = server.server?.port as number;
    let attempts = 0;
    const counting: typeof fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      attempts++;
      return fetch(input, init);
    }) as typeof fetch;
    const breaker = createBreaker({ name: "campaign", openMs: 60_000, failureThreshold: 2 });
    const client = treaty<typeof app>(`127.0.0.1:${port}`, { fetcher: breakerFetch(counting, breaker) });
    const ping = () => client.ping.get() as unknown as Promise<EdenResult<{ ok: boolean }>>;
    expect((await call(log, "campaign", ping())).data).toEqual({ ok: true });
    await server.stop(true);
    // Two refused connections open it; the third call never reaches the socket.
    for (let i = 0; i < 2; i++) expect((await thrown(call(log, "campaign", ping()))).status).toBe(503);
    const before = attempts;
    const refused = await thrown(call(log, "campaign", ping()));
    expect(attempts).toBe(before);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers?.["retry-after"])).toBeGreaterThanOrEqual(59);
    expect(served).toBe(1);
  });
});
