// Campaigns through the real gateway → campaign processes: create, the cached read with ETags,
// list paging and filters, owner/admin changes and closing, and the event path that keeps the
// gateway's snapshots fresh when a change bypasses the gateway.
import { beforeAll, describe, expect, test } from "bun:test";
import { internalCallHeaders, uniqueName, waitFor } from "@careforall/testkit";
import {
  type Account,
  ADMIN,
  type Campaign,
  call,
  createCampaign,
  expectProblem,
  login,
  register,
  useStack,
} from "./support";

// A local TTL far longer than the test: only the campaign.* events (or the gateway's own writes)
// can change a cached snapshot, so the event-path test cannot pass by a periodic re-read.
const e2e = useStack({ SNAPSHOT_LOCAL_TTL_MS: "600000" });

let owner: Account;
let stranger: Account;
let adminToken: string;

beforeAll(async () => {
  owner = await register(e2e.gw, { name: "Olive Owner" });
  stranger = await register(e2e.gw, { name: "Sam Stranger" });
  adminToken = (await login(e2e.gw, ADMIN.email, ADMIN.password)).accessToken;
});

const get = (path: string, headers: Record<string, string> = {}) =>
  call<Campaign>(e2e.gw, "GET", path, undefined, { headers });

async function metric(pattern: RegExp): Promise<number> {
  const text = (await call<string>(e2e.gw, "GET", "/metrics")).text;
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

describe("create", () => {
  test("201: the caller owns it, totals are zero and it is active", async () => {
    const input = {
      title: "Flood relief in Sunamganj",
      description: "Boats, food and medicine",
      goalMinor: 250_000,
      currency: "BDT",
      endsAt: "2099-12-31T18:00:00Z",
    };
    const reply = await call<Campaign>(e2e.gw, "POST", "/api/campaigns", input, { token: owner.token });
    expect(reply.res.headers.get("location")).toBe(`/api/campaigns/${reply.body.id}`);
    expect(reply.status).toBe(201);
    const c = reply.body;
    expect(c).toMatchObject({
      ownerId: owner.session.user.id,
      title: input.title,
      description: input.description,
      goalMinor: 250_000,
      currency: "BDT",
      status: "active",
      raisedMinor: 0,
      donorCount: 0,
      pledgeCount: 0,
    });
    expect(new Date(c.endsAt!).toISOString()).toBe("2099-12-31T18:00:00.000Z");
    expect(c.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(c.createdAt)).not.toBeNaN();
    expect(Date.parse(c.updatedAt)).not.toBeNaN();
  });

  test("without endsAt the campaign has endsAt null", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    expect(c.endsAt).toBeNull();
  });

  test("unauthenticated → 401", async () => {
    const reply = await call(e2e.gw, "POST", "/api/campaigns", {
      title: "No token",
      description: "",
      goalMinor: 1000,
      currency: "USD",
    });
    expectProblem(reply, 401);
  });
});

describe("get one", () => {
  test("200 with an ETag; If-None-Match with it → 304 and no body", async () => {
    const created = await createCampaign(e2e.gw, owner.token);
    const first = await get(`/api/campaigns/${created.id}`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: created.id, title: created.title, status: "active" });
    const etag = first.res.headers.get("etag");
    expect(etag).toMatch(/^"v\d+"$/);

    const second = await get(`/api/campaigns/${created.id}`, { "if-none-match": etag! });
    expect(second.status).toBe(304);
    expect(second.text).toBe("");
    expect(second.res.headers.get("etag")).toBe(etag);
    expect(second.res.headers.get("x-request-id")).toBeTruthy();

    const mismatch = await get(`/api/campaigns/${created.id}`, { "if-none-match": '"v0"' });
    expect(mismatch.status).toBe(200);
  });

  test("an upper-case id reads the same campaign, and follows its changes", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    const upper = await get(`/api/campaigns/${c.id.toUpperCase()}`);
    expect(upper.status).toBe(200);
    expect(upper.body.id).toBe(c.id);
    await call(e2e.gw, "PATCH", `/api/campaigns/${c.id}`, { title: "Seen in any case" }, { token: owner.token });
    expect((await get(`/api/campaigns/${c.id.toUpperCase()}`)).body.title).toBe("Seen in any case");
  });

  test("unknown id → 404 problem", async () => {
    const reply = await get(`/api/campaigns/${Bun.randomUUIDv7()}`);
    expectProblem(reply, 404);
    expect(reply.res.headers.get("x-request-id")).toBeTruthy();
  });

  test("invalid id → 400 problem naming the id", async () => {
    const problem = expectProblem(await get("/api/campaigns/not-a-uuid"), 400);
    expect(problem.errors?.map((e) => e.path)).toEqual(["id"]);
  });
});

describe("list", () => {
  test("cursor pagination visits every campaign once, newest first", async () => {
    const tag = uniqueName("page").toLowerCase();
    const created: Campaign[] = [];
    for (let i = 0; i < 5; i++) created.push(await createCampaign(e2e.gw, owner.token, { title: `${tag} #${i}` }));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `?q=${encodeURIComponent(tag)}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const reply = await call<{ items: Campaign[]; nextCursor: string | null }>(e2e.gw, "GET", `/api/campaigns${qs}`);
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...reply.body.items.map((c) => c.id));
      cursor = reply.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);

    expect(pages).toBe(3);
    expect(seen).toEqual(created.map((c) => c.id).reverse());
  });

  test("the default page has at most 20 items and a nextCursor field", async () => {
    const reply = await call<{ items: Campaign[]; nextCursor: string | null }>(e2e.gw, "GET", "/api/campaigns");
    expect(reply.status).toBe(200);
    expect(Array.isArray(reply.body.items)).toBe(true);
    expect(reply.body.items.length).toBeLessThanOrEqual(20);
    expect("nextCursor" in reply.body).toBe(true);
  });

  test("status and q filters", async () => {
    const tag = uniqueName("filter").toLowerCase();
    const open = await createCampaign(e2e.gw, owner.token, { title: `${tag} Open` });
    const shut = await createCampaign(e2e.gw, owner.token, { title: `${tag} Shut` });
    expect(
      (await call(e2e.gw, "POST", `/api/campaigns/${shut.id}/close`, undefined, { token: owner.token })).status,
    ).toBe(200);

    const list = async (query: string) =>
      (await call<{ items: Campaign[] }>(e2e.gw, "GET", `/api/campaigns?${query}`)).body.items.map((c) => c.id);

    expect(await list(`q=${encodeURIComponent(tag)}`)).toEqual([shut.id, open.id]);
    expect(await list(`q=${encodeURIComponent(tag.toUpperCase())}&status=active`)).toEqual([open.id]);
    expect(await list(`q=${encodeURIComponent(tag)}&status=closed`)).toEqual([shut.id]);
    expect(await list(`q=${encodeURIComponent(`${tag} shut`)}`)).toEqual([shut.id]);
    expect(await list(`q=${encodeURIComponent(`${tag}%`)}`)).toEqual([]);
  });

  test("a cursor the service never issued → 400", async () => {
    expectProblem(await call(e2e.gw, "GET", "/api/campaigns?cursor=bm90LWEtY3Vyc29y"), 400);
  });
});

describe("an owner's own campaigns (GET /api/me/campaigns)", () => {
  test("only the caller's, closed ones too, never cached; anonymous → 401", async () => {
    const mine = await register(e2e.gw, { name: "Mina Mine" });
    const first = await createCampaign(e2e.gw, mine.token, { title: "Mina's first" });
    const second = await createCampaign(e2e.gw, mine.token, { title: "Mina's second" });
    await createCampaign(e2e.gw, stranger.token, { title: "Not Mina's" });
    expect(
      (await call(e2e.gw, "POST", `/api/campaigns/${first.id}/close`, undefined, { token: mine.token })).status,
    ).toBe(200);

    const reply = await call<{ items: Campaign[]; nextCursor: string | null }>(
      e2e.gw,
      "GET",
      "/api/me/campaigns",
      undefined,
      { token: mine.token },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.items.map((c) => [c.id, c.status])).toEqual([
      [second.id, "active"],
      [first.id, "closed"],
    ]);
    expect(reply.body.nextCursor).toBeNull();
    expect(reply.res.headers.get("cache-control")).toBe("no-store");
    const closed = await call<{ items: Campaign[] }>(e2e.gw, "GET", "/api/me/campaigns?status=closed", undefined, {
      token: mine.token,
    });
    expect(closed.body.items.map((c) => c.id)).toEqual([first.id]);
    expectProblem(await call(e2e.gw, "GET", "/api/me/campaigns"), 401);
  });
});

describe("update", () => {
  test("PATCH by the owner → 200, and the very next GET shows the change", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    const before = await get(`/api/campaigns/${c.id}`);
    const etag = before.res.headers.get("etag")!;

    const patch = { title: "Renamed campaign", description: "New words", goalMinor: 999_999, endsAt: null };
    const reply = await call<Campaign>(e2e.gw, "PATCH", `/api/campaigns/${c.id}`, patch, { token: owner.token });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ ...patch, id: c.id, ownerId: owner.session.user.id, status: "active" });

    const after = await get(`/api/campaigns/${c.id}`);
    expect(after.body).toMatchObject(patch);
    expect(after.res.headers.get("etag")).not.toBe(etag);
    // The old ETag no longer matches: a client revalidating gets the new body.
    expect((await get(`/api/campaigns/${c.id}`, { "if-none-match": etag })).status).toBe(200);
  });

  test("PATCH by another user → 403, and nothing changes", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    expectProblem(
      await call(e2e.gw, "PATCH", `/api/campaigns/${c.id}`, { title: "Hijacked" }, { token: stranger.token }),
      403,
    );
    expect((await get(`/api/campaigns/${c.id}`)).body.title).toBe(c.title);
  });

  test("an admin may PATCH anyone's campaign", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    const reply = await call<Campaign>(
      e2e.gw,
      "PATCH",
      `/api/campaigns/${c.id}`,
      { title: "Moderated title" },
      { token: adminToken },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.ownerId).toBe(owner.session.user.id);
    expect((await get(`/api/campaigns/${c.id}`)).body.title).toBe("Moderated title");
  });

  test("PATCH an unknown campaign → 404; unauthenticated → 401", async () => {
    expectProblem(
      await call(e2e.gw, "PATCH", `/api/campaigns/${Bun.randomUUIDv7()}`, { title: "Nobody" }, { token: owner.token }),
      404,
    );
    const c = await createCampaign(e2e.gw, owner.token);
    expectProblem(await call(e2e.gw, "PATCH", `/api/campaigns/${c.id}`, { title: "Anonymous" }), 401);
  });
});

describe("close", () => {
  test("the owner closes → status closed, and GET shows it", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    await get(`/api/campaigns/${c.id}`);
    const reply = await call<Campaign>(e2e.gw, "POST", `/api/campaigns/${c.id}/close`, undefined, {
      token: owner.token,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe("closed");
    expect((await get(`/api/campaigns/${c.id}`)).body.status).toBe("closed");
  });

  test("another user → 403 and the campaign stays active; an admin may close it", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    expectProblem(
      await call(e2e.gw, "POST", `/api/campaigns/${c.id}/close`, undefined, { token: stranger.token }),
      403,
    );
    expect((await get(`/api/campaigns/${c.id}`)).body.status).toBe("active");

    const reply = await call<Campaign>(e2e.gw, "POST", `/api/campaigns/${c.id}/close`, undefined, {
      token: adminToken,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe("closed");
    expect((await get(`/api/campaigns/${c.id}`)).body.status).toBe("closed");
  });

  test("PATCH after close → 409; closing again is a harmless 200", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    await call(e2e.gw, "POST", `/api/campaigns/${c.id}/close`, undefined, { token: owner.token });
    expectProblem(
      await call(e2e.gw, "PATCH", `/api/campaigns/${c.id}`, { title: "Too late" }, { token: owner.token }),
      409,
    );
    const again = await call<Campaign>(e2e.gw, "POST", `/api/campaigns/${c.id}/close`, undefined, {
      token: owner.token,
    });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("closed");
  });

  test("close an unknown campaign → 404; unauthenticated → 401", async () => {
    expectProblem(
      await call(e2e.gw, "POST", `/api/campaigns/${Bun.randomUUIDv7()}/close`, undefined, { token: owner.token }),
      404,
    );
    const c = await createCampaign(e2e.gw, owner.token);
    expectProblem(await call(e2e.gw, "POST", `/api/campaigns/${c.id}/close`), 401);
  });
});

describe("event path", () => {
  test("a change made at the campaign service reaches the gateway's snapshot via campaign.updated", async () => {
    const c = await createCampaign(e2e.gw, owner.token);
    const cached = await get(`/api/campaigns/${c.id}`);
    expect(cached.body.status).toBe("active");
    const originReads = /careforall_gateway_snapshot_lookups_total\{layer="origin",service="gateway"\} (\d+)/;
    const before = await metric(originReads);

    // Straight to the service: the gateway's own write path (and its snapshot apply) is bypassed.
    const direct = await fetch(`${e2e.stack.urls.campaign}/campaigns/${c.id}/close`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${owner.token}`,
        ...(await internalCallHeaders(e2e.stack.urls.campaign, `/campaigns/${c.id}/close`)),
      },
    });
    expect(direct.status).toBe(200);

    const seen = await waitFor(
      async () => {
        const reply = await get(`/api/campaigns/${c.id}`);
        return reply.body.status === "closed" ? reply : null;
      },
      { timeoutMs: 10_000, what: "the gateway to serve the closed campaign" },
    );
    expect(seen.res.headers.get("etag")).not.toBe(cached.res.headers.get("etag"));
    // Served from the pushed snapshot, not by going back to the campaign service.
    expect(await metric(originReads)).toBe(before);
  });
});
