// The ended-session denylist when Redis goes away, through real processes and a private
// redis-server SIGKILLed and started again empty: signed-in reads go through, signed-in writes get
// 503 with Retry-After and change nothing; once Redis is back, auth's resync writes the ended
// sessions again from PostgreSQL, so a logged-out token is refused again without anyone acting.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "@careforall/http";
import { type KillableServer, startRedisServer, waitFor } from "@careforall/testkit";
import { type Account, call, campaignInput, expectProblem, register, useStack } from "./support";

const redisPort = freePort();
let redis: KillableServer | undefined;

// Registered before useStack's own beforeAll, so the stack finds its Redis up.
beforeAll(async () => {
  redis = await startRedisServer(redisPort);
});
afterAll(async () => {
  await redis?.kill();
});

const e2e = useStack(
  { REDIS_URL: `redis://127.0.0.1:${redisPort}`, SESSION_DENYLIST_RESYNC_SECONDS: "1", REDIS_RETRY_MS: "200" },
  { label: "gw_denylist_outage" },
);

const me = (account: Account) => call(e2e.gw, "GET", "/api/me", undefined, { token: account.token });

describe("Redis away", () => {
  test("reads go through, writes 503 with no effect; back and empty, the resync ends the logged-out session again", async () => {
    const ended = await register(e2e.gw);
    const active = await register(e2e.gw);
    await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: ended.session.refreshToken });
    expectProblem(await me(ended), 401);

    await redis?.kill();

    // A read with a token: served (the outage is logged, not passed on to every signed-in user)…
    expect((await me(active)).status).toBe(200);
    // …which is the documented cost: an ended session can read its own owner's data meanwhile.
    expect((await me(ended)).status).toBe(200);
    // A write with a token: refused until the session can be checked, and nothing happens.
    const title = `During the outage ${Bun.randomUUIDv7()}`;
    const refused = await call(e2e.gw, "POST", "/api/campaigns", campaignInput({ title }), { token: active.token });
    expectProblem(refused, 503);
    expect(Number(refused.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    await redis?.start(); // empty: the denylist entry is gone

    await waitFor(async () => (await me(ended)).status === 401, {
      what: "the resync to end the logged-out session again",
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    expect((await me(active)).status).toBe(200);
    await waitFor(
      async () =>
        (await call(e2e.gw, "POST", "/api/campaigns", campaignInput(), { token: active.token })).status === 201,
      { what: "signed-in writes to be accepted again", timeoutMs: 20_000, intervalMs: 100 },
    );
    const list = await call<{ items: unknown[] }>(e2e.gw, "GET", `/api/campaigns?q=${encodeURIComponent(title)}`);
    expect(list.body.items).toHaveLength(0);
  }, 60_000);
});
