// Rate limits on the auth routes in a stack started with RATE_LIMIT_AUTH=3 (per minute: register per
// IP and per email, failed logins per IP, refresh per IP) and no trusted proxies: the 4th attempt is
// a 429 with Retry-After, and a forged X-Forwarded-For cannot buy a fresh allowance. Tests share
// counters, so order matters. The login rule itself (per IP + email, no per-email lock-out) is
// login-limits.e2e.test.ts.
import { beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { type Account, call, expectProblem, PASSWORD, type Reply, register, uniqueEmail, useStack } from "./support";

const e2e = useStack({ RATE_LIMIT_AUTH: "3", TRUSTED_PROXIES: "" });

let victim: Account;
let forged = 0;
/** A different, plausible client address every call. */
const spoof = () => ({ "x-forwarded-for": `198.51.100.${++forged}`, "x-real-ip": `203.0.113.${forged}` });

beforeAll(async () => {
  // Register hit 1 of 3 from this IP.
  victim = await register(e2e.gw);
});

function expectRateLimited(reply: Reply) {
  const problem = expectProblem(reply, 429);
  expect(problem.type).toContain("rate-limited");
  const retryAfter = reply.res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  expect(reply.res.headers.get("x-request-id")).toBeTruthy();
}

describe("login", () => {
  test("after 3 failed logins from one IP, the 4th → 429, even with the right password", async () => {
    for (let i = 0; i < 3; i++) {
      const wrong = await call(e2e.gw, "POST", "/api/auth/login", { email: victim.email, password: `guess-${i}` });
      expect(wrong.status).toBe(401);
    }
    expectRateLimited(await call(e2e.gw, "POST", "/api/auth/login", { email: victim.email, password: PASSWORD }));
  });

  test("a differently cased email does not reset it", async () => {
    expectRateLimited(
      await call(e2e.gw, "POST", "/api/auth/login", { email: victim.email.toUpperCase(), password: PASSWORD }),
    );
  });

  test("a forged X-Forwarded-For does not reset the per-IP limit", async () => {
    // A different email (its own counter is fresh), a new "client address" each time: still this IP.
    for (let i = 0; i < 3; i++) {
      expectRateLimited(
        await call(
          e2e.gw,
          "POST",
          "/api/auth/login",
          { email: uniqueEmail("other"), password: PASSWORD },
          { headers: spoof() },
        ),
      );
    }
  });

  test("other routes are not affected by the exhausted login limit", async () => {
    expect((await call(e2e.gw, "GET", "/api/me", undefined, { token: victim.token })).status).toBe(200);
    expect((await call(e2e.gw, "GET", "/api/campaigns?limit=1")).status).toBe(200);
  });
});

describe("register", () => {
  test("per IP: distinct emails and forged X-Forwarded-For still hit the limit on the 4th", async () => {
    // beforeAll used 1 of 3.
    for (let i = 0; i < 2; i++) {
      const ok = await call(
        e2e.gw,
        "POST",
        "/api/auth/register",
        { email: uniqueEmail("reg"), password: PASSWORD, name: "Reg" },
        { headers: spoof() },
      );
      expect(ok.status).toBe(201);
    }
    expectRateLimited(
      await call(
        e2e.gw,
        "POST",
        "/api/auth/register",
        { email: uniqueEmail("reg"), password: PASSWORD, name: "Reg" },
        { headers: spoof() },
      ),
    );
  });

  test("a refused registration reaches no service: no account is created", async () => {
    const email = uniqueEmail("refused");
    expectRateLimited(await call(e2e.gw, "POST", "/api/auth/register", { email, password: PASSWORD, name: "No" }));
    const sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select count(*)::int as n from auth.users where email = ${email}`;
      expect(rows[0]?.n).toBe(0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("schema-invalid requests are refused with 400 before the limiter", async () => {
    expectProblem(await call(e2e.gw, "POST", "/api/auth/register", { email: "x" }), 400);
  });
});

describe("refresh", () => {
  test("per IP: the 4th refresh within a minute → 429, whatever X-Forwarded-For says", async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await call(
        e2e.gw,
        "POST",
        "/api/auth/refresh",
        { refreshToken: `not-a-real-token-${i}` },
        { headers: spoof() },
      );
      expect(reply.status).toBe(401);
    }
    expectRateLimited(
      await call(
        e2e.gw,
        "POST",
        "/api/auth/refresh",
        { refreshToken: victim.session.refreshToken },
        { headers: spoof() },
      ),
    );
  });
});
