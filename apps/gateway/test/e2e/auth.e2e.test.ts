// Accounts and sessions through the real gateway → auth processes: registration, login, refresh
// rotation with reuse detection, logout, /api/me, and every way a bad token is refused.
import { describe, expect, test } from "bun:test";
import {
  ADMIN,
  call,
  expectProblem,
  login,
  PASSWORD,
  register,
  type Session,
  signToken,
  strangerKey,
  uniqueEmail,
  unsignedToken,
  useStack,
} from "./support";

const e2e = useStack();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `bank`: "unopened" right after register (the account is opened from user.registered, later);
 * "either" afterwards, since the bank may or may not have opened it yet — never a timing bet.
 */
function expectSession(body: Session, email: string, name: string, bank: "unopened" | "either" = "unopened") {
  expect(Object.keys(body).sort()).toEqual(["accessToken", "expiresIn", "refreshToken", "user"]);
  const { bankAccountId, ...user } = body.user;
  expect(user).toEqual({ id: body.user.id, email, name, role: "donor" });
  if (bank === "unopened" || bankAccountId === null) expect(bankAccountId).toBeNull();
  else expect(bankAccountId).toMatch(/^acct_[A-Za-z0-9_-]+$/);
  expect(body.user.id).toMatch(UUID);
  expect(typeof body.accessToken).toBe("string");
  expect(body.accessToken.split(".")).toHaveLength(3);
  expect(typeof body.refreshToken).toBe("string");
  expect(body.refreshToken.length).toBeGreaterThan(20);
  expect(body.expiresIn).toBe(900);
}

describe("register", () => {
  test("201 with a donor Session", async () => {
    const email = uniqueEmail("reg");
    const reply = await call<Session>(e2e.gw, "POST", "/api/auth/register", {
      email,
      password: PASSWORD,
      name: "Grace Hopper",
    });
    expect(reply.status).toBe(201);
    expect(reply.res.headers.get("content-type")).toStartWith("application/json");
    expectSession(reply.body, email, "Grace Hopper");
  });

  test("the email is stored trimmed and lower-cased", async () => {
    const email = uniqueEmail("case");
    const reply = await call<Session>(e2e.gw, "POST", "/api/auth/register", {
      email: email.toUpperCase(),
      password: PASSWORD,
      name: "Casey",
    });
    expect(reply.status).toBe(201);
    expect(reply.body.user.email).toBe(email);
  });

  test("a duplicate email → 409, also when differently cased", async () => {
    const account = await register(e2e.gw);
    for (const email of [account.email, account.email.toUpperCase()]) {
      const reply = await call(e2e.gw, "POST", "/api/auth/register", { email, password: PASSWORD, name: "Again" });
      expectProblem(reply, 409);
    }
    // The original account is untouched.
    expect((await login(e2e.gw, account.email, PASSWORD)).user.id).toBe(account.session.user.id);
  });

  test("concurrent registrations of one email: exactly one 201, the rest 409", async () => {
    const email = uniqueEmail("race");
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(e2e.gw, "POST", "/api/auth/register", {
          email: i % 2 ? email.toUpperCase() : email,
          password: PASSWORD,
          name: `Racer ${i}`,
        }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of replies.filter((r) => r.status === 409)) expectProblem(r, 409);
  });

  test('role: "admin" in the body still yields a donor', async () => {
    const email = uniqueEmail("sneaky");
    const reply = await call<Session>(e2e.gw, "POST", "/api/auth/register", {
      email,
      password: PASSWORD,
      name: "Sneaky",
      role: "admin",
    });
    expect(reply.status).toBe(201);
    expect(reply.body.user.role).toBe("donor");
    const me = await call<Session["user"]>(e2e.gw, "GET", "/api/me", undefined, { token: reply.body.accessToken });
    expect(me.body.role).toBe("donor");
    expect((await login(e2e.gw, email, PASSWORD)).user.role).toBe("donor");
  });
});

describe("login", () => {
  test("200 with a fresh Session", async () => {
    const account = await register(e2e.gw, { name: "Login Lee" });
    const reply = await call<Session>(e2e.gw, "POST", "/api/auth/login", {
      email: account.email,
      password: PASSWORD,
    });
    expect(reply.status).toBe(200);
    expectSession(reply.body, account.email, "Login Lee", "either");
    expect(reply.body.user.id).toBe(account.session.user.id);
    expect(reply.body.refreshToken).not.toBe(account.session.refreshToken);
  });

  test("the email is matched case-insensitively", async () => {
    const account = await register(e2e.gw);
    expect((await login(e2e.gw, account.email.toUpperCase(), PASSWORD)).user.id).toBe(account.session.user.id);
  });

  test("a wrong password → 401, and so does an unknown email, with the same answer", async () => {
    const account = await register(e2e.gw);
    const wrong = expectProblem(
      await call(e2e.gw, "POST", "/api/auth/login", { email: account.email, password: "not the password" }),
      401,
    );
    const unknown = expectProblem(
      await call(e2e.gw, "POST", "/api/auth/login", { email: uniqueEmail("ghost"), password: PASSWORD }),
      401,
    );
    // Nothing tells an attacker which accounts exist.
    expect({ ...unknown }).toEqual({ ...wrong });
  });

  test("the dev admin from ADMIN_EMAIL/ADMIN_PASSWORD logs in with role admin", async () => {
    const session = await login(e2e.gw, ADMIN.email, ADMIN.password);
    expect(session.user.role).toBe("admin");
    expect(session.user.email).toBe(ADMIN.email);
    const me = await call<Session["user"]>(e2e.gw, "GET", "/api/me", undefined, { token: session.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.role).toBe("admin");
  });
});

describe("refresh", () => {
  test("rotates: a new access and refresh token for the same user", async () => {
    const account = await register(e2e.gw, { name: "Rota" });
    const reply = await call<Session>(e2e.gw, "POST", "/api/auth/refresh", {
      refreshToken: account.session.refreshToken,
    });
    expect(reply.status).toBe(200);
    expectSession(reply.body, account.email, "Rota", "either");
    expect(reply.body.user.id).toBe(account.session.user.id);
    expect(reply.body.refreshToken).not.toBe(account.session.refreshToken);
    const me = await call(e2e.gw, "GET", "/api/me", undefined, { token: reply.body.accessToken });
    expect(me.status).toBe(200);
  });

  test("reusing the old token → 401 and revokes the family (the new token is dead too)", async () => {
    const account = await register(e2e.gw);
    const first = account.session.refreshToken;
    const rotated = await call<Session>(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: first });
    expect(rotated.status).toBe(200);
    const second = rotated.body.refreshToken;

    expectProblem(await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: first }), 401);
    expectProblem(await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: second }), 401);

    // Another family (a separate login) is unaffected.
    const other = await login(e2e.gw, account.email, PASSWORD);
    expect((await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: other.refreshToken })).status).toBe(200);
  });

  test("concurrent refreshes of one token rotate it exactly once", async () => {
    const account = await register(e2e.gw);
    const replies = await Promise.all(
      Array.from({ length: 5 }, () =>
        call<Session>(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: account.session.refreshToken }),
      ),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401, 401, 401, 401]);
  });

  test("an unknown refresh token → 401", async () => {
    expectProblem(await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: "x".repeat(43) }), 401);
  });
});

describe("logout", () => {
  test("204 with no body, then the refresh token is refused", async () => {
    const account = await register(e2e.gw);
    const reply = await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: account.session.refreshToken });
    expect(reply.status).toBe(204);
    expect(reply.text).toBe("");
    expect(reply.res.headers.get("x-request-id")).toBeTruthy();
    expectProblem(await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: account.session.refreshToken }), 401);
  });

  test("logging out twice, or with an unknown token, is still 204", async () => {
    const account = await register(e2e.gw);
    for (const refreshToken of [account.session.refreshToken, account.session.refreshToken, "unknown-token"]) {
      expect((await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken })).status).toBe(204);
    }
  });
});

describe("/api/me", () => {
  test("200 with the signed-in user", async () => {
    const account = await register(e2e.gw, { name: "Me Myself" });
    const reply = await call(e2e.gw, "GET", "/api/me", undefined, { token: account.token });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(account.session.user);
  });

  test("401 without a token, with a WWW-Authenticate challenge", async () => {
    const reply = await call(e2e.gw, "GET", "/api/me");
    expectProblem(reply, 401);
    expect(reply.res.headers.get("www-authenticate")).toBe("Bearer");
  });

  test("401 with an expired token signed by the real key", async () => {
    const token = await signToken({ privateKeyPem: e2e.keys.privateKeyPem, exp: Math.floor(Date.now() / 1000) - 60 });
    expectProblem(await call(e2e.gw, "GET", "/api/me", undefined, { token }), 401);
  });

  test("401 with a token signed by another key", async () => {
    const account = await register(e2e.gw);
    const token = await signToken({
      privateKeyPem: await strangerKey(),
      sub: account.session.user.id,
      claims: { email: account.email, role: "admin" },
    });
    expectProblem(await call(e2e.gw, "GET", "/api/me", undefined, { token }), 401);
  });

  test("401 with an alg: none token", async () => {
    const account = await register(e2e.gw);
    const token = unsignedToken({ sub: account.session.user.id, email: account.email });
    expectProblem(await call(e2e.gw, "GET", "/api/me", undefined, { token }), 401);
  });

  test("401 with the wrong issuer, even when signed by the real key", async () => {
    const token = await signToken({ privateKeyPem: e2e.keys.privateKeyPem, issuer: "someone-else" });
    expectProblem(await call(e2e.gw, "GET", "/api/me", undefined, { token }), 401);
  });

  test("401 with garbage or a malformed Authorization header", async () => {
    for (const authorization of ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic dXNlcjpwYXNz", "garbage"]) {
      const reply = await call(e2e.gw, "GET", "/api/me", undefined, { headers: { authorization } });
      expect({ authorization, status: reply.status }).toEqual({ authorization, status: 401 });
      expectProblem(reply, 401);
    }
  });

  test("an access token stops working once its session is logged out (401, not 15 minutes later)", async () => {
    const account = await register(e2e.gw);
    await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: account.session.refreshToken });
    expectProblem(await call(e2e.gw, "GET", "/api/me", undefined, { token: account.token }), 401);
  });
});
