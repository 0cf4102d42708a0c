import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manualClock } from "@careforall/config";
import { serviceHeaders } from "@careforall/testkit";
import { eq } from "drizzle-orm";
import { authDbSchema, createAuthApp } from "../src/app";
import { hashToken } from "../src/domain";
import { type Harness, newEmail, problem, startAuth } from "./support";

const { refreshTokens } = authDbSchema;
let h: Harness;

beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.close();
});

const refresh = (refreshToken: string) => h.post("/auth/refresh", { refreshToken });

async function stored(refreshToken: string) {
  const [row] = await h.db.db
    .select()
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, hashToken(refreshToken)));
  if (!row) throw new Error("token not stored");
  return row;
}

async function familyOf(refreshToken: string) {
  const row = await stored(refreshToken);
  return h.db.db.select().from(refreshTokens).where(eq(refreshTokens.familyId, row.familyId));
}

describe("POST /auth/login", () => {
  test("right credentials → 200 Session; the email is matched case-insensitively", async () => {
    const { body, session: registered } = await h.register();
    const res = await h.post("/auth/login", { email: body.email.toUpperCase(), password: body.password });
    expect(res.status).toBe(200);
    const session = await res.json();
    expect(session.user).toEqual(registered.user);
    expect(session.expiresIn).toBe(900);
    expect(session.refreshToken).not.toBe(registered.refreshToken);
    expect(JSON.stringify(session)).not.toContain(body.password);
  });

  test("a wrong password and an unknown email → the same 401", async () => {
    const { body } = await h.register();
    const wrong = await problem(await h.post("/auth/login", { email: body.email, password: "not the password" }), 401);
    const unknown = await problem(
      await h.post("/auth/login", { email: newEmail("ghost"), password: body.password }),
      401,
    );
    expect(unknown).toEqual(wrong);
    expect(wrong.detail).toBe("The email or password is incorrect");
  });

  test("each login starts its own token family", async () => {
    const { body, session } = await h.register();
    const login = await (await h.post("/auth/login", { email: body.email, password: body.password })).json();
    expect((await stored(session.refreshToken)).familyId).not.toBe((await stored(login.refreshToken)).familyId);
  });

  test("the refresh token is stored only as its SHA-256", async () => {
    const { session } = await h.register();
    const rows = await familyOf(session.refreshToken);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.tokenHash).toBe(hashToken(session.refreshToken));
    expect(JSON.stringify(rows)).not.toContain(session.refreshToken);
  });
});

describe("POST /auth/refresh", () => {
  test("rotates: a new session, the new tokens work, the old refresh token is spent", async () => {
    const { session } = await h.register();
    const res = await refresh(session.refreshToken);
    expect(res.status).toBe(200);
    const next = await res.json();
    expect(next.user).toEqual(session.user);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect(next.accessToken).not.toBe(session.accessToken);
    expect((await h.get("/me", next.accessToken)).status).toBe(200);
    expect((await stored(session.refreshToken)).usedAt).toBeInstanceOf(Date);
    expect((await stored(next.refreshToken)).usedAt).toBeNull();
    expect((await refresh(next.refreshToken)).status).toBe(200);
  });

  test("reusing a spent token → 401 and the whole family is revoked, the newest token included", async () => {
    const { session } = await h.register();
    const second = await (await refresh(session.refreshToken)).json();
    const third = await (await refresh(second.refreshToken)).json();

    await problem(await refresh(session.refreshToken), 401);

    await problem(await refresh(third.refreshToken), 401);
    const family = await familyOf(session.refreshToken);
    expect(family).toHaveLength(3);
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });

  test("reuse detection leaves the user's other sessions alone", async () => {
    const { body, session } = await h.register();
    const other = await (await h.post("/auth/login", { email: body.email, password: body.password })).json();
    await refresh(session.refreshToken);
    await problem(await refresh(session.refreshToken), 401);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  test("concurrent refreshes of one token rotate it once; the rest count as reuse", async () => {
    const { session } = await h.register();
    const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(session.refreshToken)));
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(responses.filter((r) => r.status === 401)).toHaveLength(4);
    const family = await familyOf(session.refreshToken);
    expect(family).toHaveLength(2);
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });

  test("an unknown token → 401", async () => {
    const res = await problem(await refresh("never-issued-token"), 401);
    expect(res.detail).toBe("The refresh token is invalid, expired or revoked");
  });

  test("an expired token → 401, without revoking anything", async () => {
    const clock = manualClock(Date.now());
    const app = createAuthApp({ ...h.deps, clock });
    const asGateway = await serviceHeaders("auth");
    const post = (body: unknown) =>
      app.handle(
        new Request("http://localhost/auth/refresh", {
          method: "POST",
          headers: { "content-type": "application/json", ...asGateway },
          body: JSON.stringify(body),
        }),
      );
    const register = await app.handle(
      new Request("http://localhost/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json", ...asGateway },
        body: JSON.stringify({ email: newEmail("exp"), password: "long enough", name: "E" }),
      }),
    );
    const session = await register.json();
    clock.advance(h.config.REFRESH_TOKEN_TTL_SECONDS * 1000 - 1000);
    const live = await post({ refreshToken: session.refreshToken });
    expect(live.status).toBe(200);
    const next = await live.json();
    clock.advance(h.config.REFRESH_TOKEN_TTL_SECONDS * 1000);
    await problem(await post({ refreshToken: next.refreshToken }), 401);
    const family = await familyOf(next.refreshToken);
    expect(family.some((t) => t.revokedAt !== null)).toBe(false);
  });
});

describe("POST /auth/logout", () => {
  test("→ 204 with an empty body, and the token (and its family) no longer refreshes", async () => {
    const { session } = await h.register();
    const next = await (await refresh(session.refreshToken)).json();
    const res = await h.post("/auth/logout", { refreshToken: next.refreshToken });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    await problem(await refresh(next.refreshToken), 401);
    const family = await familyOf(session.refreshToken);
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });

  test("is idempotent: an unknown or already revoked token → 204", async () => {
    expect((await h.post("/auth/logout", { refreshToken: "never-issued-token" })).status).toBe(204);
    const { session } = await h.register();
    expect((await h.post("/auth/logout", { refreshToken: session.refreshToken })).status).toBe(204);
    expect((await h.post("/auth/logout", { refreshToken: session.refreshToken })).status).toBe(204);
  });

  test("other sessions of the same user keep working", async () => {
    const { body, session } = await h.register();
    const other = await (await h.post("/auth/login", { email: body.email, password: body.password })).json();
    await h.post("/auth/logout", { refreshToken: session.refreshToken });
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });
});
