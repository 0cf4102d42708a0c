// The API client's session: the access token rides on every call, is refreshed shortly before it
// expires and after a 401 (once for all calls in flight, then the call is retried), a refused refresh
// ends the session ("your session ended") and the call goes on as a guest's; a refresh token rotated
// by another tab is the one used.
import { describe, expect, test } from "bun:test";
import { createApi } from "../src/api/client";
import type { SessionBody } from "../src/api/session";
import { memoryStorage } from "../src/lib/storage";

const USER = { id: "u1", email: "a@example.org", name: "Ayesha", role: "donor" as const, bankAccountId: null };

function session(n: number, expiresIn = 900): SessionBody {
  return { user: USER, accessToken: `access-${n}`, refreshToken: `refresh-${n}`, expiresIn };
}

/** A gateway stand-in: /api/auth/refresh rotates; /api/me answers 200 to the current token, else 401. */
function fakeGateway(options: { refuseRefresh?: boolean; refreshDelayMs?: number } = {}) {
  const state = { current: 1, refreshCalls: [] as string[], seen: [] as (string | null)[] };
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const headers = new Headers(init?.headers);
    if (url.pathname === "/api/auth/refresh") {
      const { refreshToken } = JSON.parse(String(init?.body)) as { refreshToken: string };
      state.refreshCalls.push(refreshToken);
      if (options.refreshDelayMs) await Bun.sleep(options.refreshDelayMs);
      if (options.refuseRefresh || refreshToken !== `refresh-${state.current}`)
        return Response.json({ title: "Unauthorized", status: 401 }, { status: 401 });
      state.current++;
      return Response.json(session(state.current));
    }
    const auth = headers.get("authorization");
    state.seen.push(auth);
    if (url.pathname === "/api/me") {
      if (auth === `Bearer access-${state.current}`) return Response.json(USER);
      return Response.json({ title: "Unauthorized", status: 401 }, { status: 401 });
    }
    return Response.json({ items: [], nextCursor: null });
  }) as typeof globalThis.fetch;
  return { state, fetch };
}

describe("API client session", () => {
  test("a fresh access token rides on the call, no refresh", async () => {
    const gw = fakeGateway();
    const api = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage: memoryStorage() });
    api.session.adopt(session(1));
    const res = await api.client.me.get();
    expect(res.status).toBe(200);
    expect(gw.state.seen).toEqual(["Bearer access-1"]);
    expect(gw.state.refreshCalls).toEqual([]);
  });

  test("a token about to expire is refreshed first, once for every call in flight", async () => {
    let now = 1_000_000;
    const gw = fakeGateway({ refreshDelayMs: 20 });
    const api = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage: memoryStorage(), now: () => now });
    api.session.adopt(session(1, 60));
    now += 45_000; // 15 s left: inside the refresh margin
    const answers = await Promise.all([api.client.me.get(), api.client.me.get(), api.client.me.get()]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(gw.state.refreshCalls).toEqual(["refresh-1"]);
    expect(gw.state.seen).toEqual(["Bearer access-2", "Bearer access-2", "Bearer access-2"]);
  });

  test("a 401 refreshes once and retries the call with the new token", async () => {
    const gw = fakeGateway();
    // The gateway refuses access-1 once (say, its session was ended elsewhere); refresh-1 still works.
    let refusedOnce = false;
    const api = createApi({
      baseUrl: "http://gw.test",
      storage: memoryStorage(),
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        if (!refusedOnce && String(input).endsWith("/api/me")) {
          refusedOnce = true;
          gw.state.seen.push(new Headers(init?.headers).get("authorization"));
          return Response.json({ title: "Unauthorized", status: 401 }, { status: 401 });
        }
        return gw.fetch(input, init);
      }) as typeof fetch,
    });
    api.session.adopt(session(1));
    const res = await api.client.me.get();
    expect(res.status).toBe(200);
    expect(gw.state.refreshCalls).toEqual(["refresh-1"]);
    expect(gw.state.seen).toEqual(["Bearer access-1", "Bearer access-2"]);
    expect(api.session.user()?.id).toBe("u1");
  });

  test("a refused refresh ends the session, says so, and the call goes on as a guest's", async () => {
    let now = 1_000_000;
    const gw = fakeGateway({ refuseRefresh: true });
    const storage = memoryStorage();
    const api = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage, now: () => now });
    api.session.adopt(session(1, 60));
    let changes = 0;
    api.session.onChange(() => changes++);
    now += 120_000; // expired
    const res = await api.client.campaigns.get({ query: {} });
    expect(res.status).toBe(200);
    expect(gw.state.seen).toEqual([null]);
    expect(api.session.user()).toBeNull();
    expect(api.session.expired()).toBe(true);
    expect(storage.getItem("cfa.session")).toBeNull();
    expect(changes).toBe(1);
  });

  test("after a reload a still-live access token is reused: no refresh to lose mid-flight", async () => {
    const gw = fakeGateway();
    const storage = memoryStorage();
    createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage }).session.adopt(session(1));
    // A new page: the stored access token is good for 15 minutes more.
    const api = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage });
    expect(api.session.user()?.name).toBe("Ayesha");
    expect((await api.client.me.get()).status).toBe(200);
    expect(gw.state.seen).toEqual(["Bearer access-1"]);
    expect(gw.state.refreshCalls).toEqual([]);
  });

  test("after a reload with an expiring access token the stored refresh token signs the tab back in", async () => {
    let now = 1_000_000;
    const gw = fakeGateway();
    const storage = memoryStorage();
    createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage, now: () => now }).session.adopt(session(1, 60));
    now += 45_000;
    const api = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage, now: () => now });
    expect((await api.client.me.get()).status).toBe(200);
    expect(gw.state.refreshCalls).toEqual(["refresh-1"]);
    expect(gw.state.seen).toEqual(["Bearer access-2"]);
  });

  test("a token another tab just got is taken, not refreshed again (a reused refresh token would revoke the family)", async () => {
    let now = 1_000_000;
    const gw = fakeGateway();
    const storage = memoryStorage();
    const tabA = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage, now: () => now });
    const tabB = createApi({ baseUrl: "http://gw.test", fetch: gw.fetch, storage, now: () => now });
    tabA.session.adopt(session(1, 60));
    tabB.session.adopt(session(1, 60));
    now += 50_000;
    expect((await tabA.client.me.get()).status).toBe(200); // rotates to refresh-2 in shared storage
    expect((await tabB.client.me.get()).status).toBe(200); // takes access-2 from storage; never sends refresh-1
    expect(gw.state.refreshCalls).toEqual(["refresh-1"]);
    expect(gw.state.seen.at(-1)).toBe("Bearer access-2");
    // Later, when access-2 (900 s) nears its end, tab B refreshes with the current token, refresh-2.
    now += 880_000;
    expect((await tabB.client.me.get()).status).toBe(200);
    expect(gw.state.refreshCalls).toEqual(["refresh-1", "refresh-2"]);
    expect(tabB.session.expired()).toBe(false);
  });
});
