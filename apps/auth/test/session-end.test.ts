// Ending a session ends its access tokens: auth names each token's session (`sid`, the refresh
// family), and logout or a reused refresh token puts that session into the denylist in real Redis,
// for as long as its access tokens can live. The verifier (auth's own /me here) refuses them with
// 401; other sessions of the same user keep working. The denylist is a copy of PostgreSQL: the
// resync writes it again after Redis lost it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRedisCache, createRedisClient } from "@careforall/cache";
import { systemClock } from "@careforall/config";
import { createSessionDenylist, createTokenVerifier, freePort, sessionDenylistKey } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { TEST_REDIS_URL, uniqueName } from "@careforall/testkit";
import { decodeJwt } from "jose";
import { CLOCK_SKEW_SECONDS, createEndedSessions } from "../src/sessions";
import { type Harness, problem, startAuth } from "./support";

const prefix = `${uniqueName("auth_sessions")}:`;
const redis = createRedisClient(TEST_REDIS_URL);
const denylist = createSessionDenylist(createRedisCache(redis, prefix));
let h: Harness;

beforeAll(async () => {
  await redis.connect();
  h = await startAuth({ denylist });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await h?.close();
});

const sidOf = (accessToken: string) => decodeJwt(accessToken).sid as string;
const me = (accessToken: string) => h.get("/me", accessToken);

async function login(email: string, password: string) {
  const res = await h.post("/auth/login", { email, password });
  expect(res.status).toBe(200);
  return (await res.json()) as { accessToken: string; refreshToken: string };
}

describe("the session id claim", () => {
  test("every access token names its session: one per login, kept across refreshes", async () => {
    const { body, session } = await h.register();
    const second = await login(body.email, body.password);
    expect(sidOf(session.accessToken)).toMatch(/^[0-9a-f-]{36}$/);
    expect(sidOf(second.accessToken)).not.toBe(sidOf(session.accessToken));
    const refreshed = await (await h.post("/auth/refresh", { refreshToken: session.refreshToken })).json();
    expect(sidOf(refreshed.accessToken)).toBe(sidOf(session.accessToken));
  });
});

describe("logout", () => {
  test("the session's access token → 401 at once; the user's other session keeps working", async () => {
    const { body, session } = await h.register();
    const other = await login(body.email, body.password);
    expect((await me(session.accessToken)).status).toBe(200);

    expect((await h.post("/auth/logout", { refreshToken: session.refreshToken })).status).toBe(204);

    const refused = await problem(await me(session.accessToken), 401);
    expect(refused.detail).toBe("The session has ended; sign in again");
    expect((await me(other.accessToken)).status).toBe(200);
  });

  test("the denylist entry lives as long as an access token can (TTL + clock skew), no longer", async () => {
    const { session } = await h.register();
    await h.post("/auth/logout", { refreshToken: session.refreshToken });
    const ttl = await redis.ttl(prefix + sessionDenylistKey(sidOf(session.accessToken)));
    const window = h.config.ACCESS_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS;
    expect(ttl).toBeGreaterThan(window - 5);
    expect(ttl).toBeLessThanOrEqual(window);
  });

  test("a token refreshed before the logout ends with it (the whole family)", async () => {
    const { session } = await h.register();
    const next = await (await h.post("/auth/refresh", { refreshToken: session.refreshToken })).json();
    await h.post("/auth/logout", { refreshToken: next.refreshToken });
    await problem(await me(session.accessToken), 401);
    await problem(await me(next.accessToken), 401);
  });

  test("an unknown refresh token ends nothing (204, and no entry written)", async () => {
    const before = await redis.keys(`${prefix}*`);
    expect((await h.post("/auth/logout", { refreshToken: "not-a-token-we-issued" })).status).toBe(204);
    expect(await redis.keys(`${prefix}*`)).toEqual(before);
  });
});

describe("refresh-token reuse", () => {
  test("the family's access tokens (before and after rotation) → 401; another login keeps working", async () => {
    const { body, session } = await h.register();
    const other = await login(body.email, body.password);
    const rotated = await (await h.post("/auth/refresh", { refreshToken: session.refreshToken })).json();
    expect((await me(rotated.accessToken)).status).toBe(200);

    // The spent token again: a copy was stolen, the family is revoked.
    await problem(await h.post("/auth/refresh", { refreshToken: session.refreshToken }), 401);

    await problem(await me(session.accessToken), 401);
    await problem(await me(rotated.accessToken), 401);
    expect((await me(other.accessToken)).status).toBe(200);
  });
});

describe("resync from PostgreSQL", () => {
  test("a denylist that lost its entries (Redis restarted empty) is rewritten with what is left of each window", async () => {
    const { session } = await h.register();
    await h.post("/auth/logout", { refreshToken: session.refreshToken });
    const key = prefix + sessionDenylistKey(sidOf(session.accessToken));
    await redis.del(key);
    expect((await me(session.accessToken)).status).toBe(200); // the loss is real…

    const ended = createEndedSessions({
      db: h.db.db,
      clock: systemClock,
      log: silentLogger("auth"),
      denylist,
      accessTokenTtlSeconds: h.config.ACCESS_TOKEN_TTL_SECONDS,
    });
    expect(await ended.resync()).toBeGreaterThanOrEqual(1);

    await problem(await me(session.accessToken), 401); // …and repaired
    expect(await redis.ttl(key)).toBeGreaterThan(0);
  });
});

describe("when the denylist cannot answer (Redis unreachable)", () => {
  test("reads go through, writes are refused with 503 and Retry-After, bad tokens are still 401", async () => {
    const { session } = await h.register();
    const dead = createRedisClient(`redis://127.0.0.1:${freePort()}`);
    await dead.connect().catch(() => {});
    const verifier = createTokenVerifier({
      publicKeyPem: h.keys.publicKeyPem,
      issuer: h.config.JWT_ISSUER,
      denylist: createSessionDenylist(createRedisCache(dead, prefix)),
    });
    try {
      const principal = await verifier.verify(session.accessToken, { whenDenylistUnavailable: "allow" });
      expect(principal.sessionId).toBe(sidOf(session.accessToken));
      // A caller that does not say gets the safe rule.
      const refused = await verifier.verify(session.accessToken).catch((err) => err);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      const forged = await verifier
        .verify(`${session.accessToken}x`, { whenDenylistUnavailable: "allow" })
        .catch((err) => err);
      expect(forged.status).toBe(401);
    } finally {
      dead.disconnect();
    }
  });
});
