// Ending a session ends its access tokens at the gateway, through real processes and real Redis:
// after logout, or after a reused refresh token revokes the family, the family's access tokens
// get 401 on reads and writes alike, while the user's other sessions keep working. Every personal
// answer on the way says Cache-Control: no-store; the public hot read does not, and carries the
// same security headers as every other answer.
import { describe, expect, test } from "bun:test";
import {
  call,
  campaignInput,
  createCampaign,
  expectProblem,
  login,
  PASSWORD,
  register,
  type Session,
  useStack,
} from "./support";

const e2e = useStack({}, { label: "gw_sessions" });

const me = (token: string) => call(e2e.gw, "GET", "/api/me", undefined, { token });

describe("logout", () => {
  test("the same access token → 401 on /api/me at once; the user's other session keeps working", async () => {
    const account = await register(e2e.gw);
    const other = await login(e2e.gw, account.email, PASSWORD);
    expect((await me(account.token)).status).toBe(200);

    const out = await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: account.session.refreshToken });
    expect(out.status).toBe(204);

    const refused = expectProblem(await me(account.token), 401);
    expect(refused.detail).toBe("The session has ended; sign in again");
    expect((await me(other.accessToken)).status).toBe(200);
  });

  test("a write with the ended session's token → 401 and no effect", async () => {
    const account = await register(e2e.gw);
    await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: account.session.refreshToken });
    const title = `After logout ${Bun.randomUUIDv7()}`;
    expectProblem(
      await call(e2e.gw, "POST", "/api/campaigns", campaignInput({ title }), { token: account.token }),
      401,
    );
    const list = await call<{ items: Array<{ title: string }> }>(
      e2e.gw,
      "GET",
      `/api/campaigns?q=${encodeURIComponent(title)}`,
    );
    expect(list.body.items).toHaveLength(0);
  });

  test("a donation with the ended session's token → 401, nothing accepted", async () => {
    const owner = await register(e2e.gw);
    const campaign = await createCampaign(e2e.gw, owner.token);
    const donor = await register(e2e.gw);
    await call(e2e.gw, "POST", "/api/auth/logout", { refreshToken: donor.session.refreshToken });
    const key = Bun.randomUUIDv7();
    const pledge = { amountMinor: 1_000, currency: "BDT" };
    const headers = { "idempotency-key": key };
    expectProblem(
      await call(e2e.gw, "POST", `/api/campaigns/${campaign.id}/pledges`, pledge, { token: donor.token, headers }),
      401,
    );
    const mine = await call<{ items: unknown[] }>(e2e.gw, "GET", "/api/me/pledges", undefined, {
      token: (await login(e2e.gw, donor.email, PASSWORD)).accessToken,
    });
    expect(mine.body.items).toHaveLength(0);
  });
});

describe("refresh-token reuse", () => {
  test("the family's access tokens → 401; another session of the same user keeps working", async () => {
    const account = await register(e2e.gw);
    const other = await login(e2e.gw, account.email, PASSWORD);
    const rotated = await call<Session>(e2e.gw, "POST", "/api/auth/refresh", {
      refreshToken: account.session.refreshToken,
    });
    expect(rotated.status).toBe(200);
    expect((await me(rotated.body.accessToken)).status).toBe(200);

    // The spent refresh token again: reuse detected, the family revoked.
    expectProblem(await call(e2e.gw, "POST", "/api/auth/refresh", { refreshToken: account.session.refreshToken }), 401);

    expectProblem(await me(account.token), 401);
    expectProblem(await me(rotated.body.accessToken), 401);
    expect((await me(other.accessToken)).status).toBe(200);
    // The other session can still act, not only read.
    await createCampaign(e2e.gw, other.accessToken);
  });
});

describe("caching headers through the real gateway", () => {
  test("personal answers say no-store (200s and errors); the public reads do not", async () => {
    const account = await register(e2e.gw);
    const personal = [
      await call(e2e.gw, "POST", "/api/auth/login", { email: account.email, password: PASSWORD }),
      await call(e2e.gw, "POST", "/api/auth/login", { email: account.email, password: "wrong password" }),
      await me(account.token),
      await me("not-a-token"),
      await call(e2e.gw, "GET", "/api/me/pledges", undefined, { token: account.token }),
      await call(e2e.gw, "GET", "/api/me/bank", undefined, { token: account.token }),
      await call(e2e.gw, "POST", "/api/bank/demo-accounts", {}),
      await call(e2e.gw, "GET", "/api/admin/audit", undefined, { token: account.token }),
    ];
    expect(personal.map((r) => r.status)).toEqual([200, 401, 200, 401, 200, expect.any(Number), 201, 403]);
    for (const reply of personal) expect(reply.res.headers.get("cache-control")).toBe("no-store");

    const campaign = await createCampaign(e2e.gw, account.token);
    const list = await call(e2e.gw, "GET", "/api/campaigns?limit=1");
    const hot = await call(e2e.gw, "GET", `/api/campaigns/${campaign.id}`);
    expect([list.status, hot.status]).toEqual([200, 200]);
    for (const reply of [list, hot]) expect(reply.res.headers.get("cache-control")).toBeNull();
  });

  test("the hot read carries the same security headers as every other answer", async () => {
    const account = await register(e2e.gw);
    const campaign = await createCampaign(e2e.gw, account.token);
    const hot = await call(e2e.gw, "GET", `/api/campaigns/${campaign.id}`);
    const again = await call(e2e.gw, "GET", `/api/campaigns/${campaign.id}`, undefined, {
      headers: { "if-none-match": hot.res.headers.get("etag") ?? "" },
    });
    const missing = await call(e2e.gw, "GET", "/api/campaigns/0193e3f0-0000-7000-8000-000000000000");
    const elsewhere = await me(account.token);
    expect([hot.status, again.status, missing.status]).toEqual([200, 304, 404]);
    for (const name of ["x-content-type-options", "x-frame-options", "referrer-policy"]) {
      const reference = elsewhere.res.headers.get(name);
      expect(reference).toBeTruthy();
      for (const reply of [hot, again, missing])
        expect({ name, value: reply.res.headers.get(name) }).toEqual({ name, value: reference });
    }
  });
});
