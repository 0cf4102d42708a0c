// The hot read's snapshot store, driven in-process with a memory cache, a manual clock and a fake
// origin that counts its calls: single flight, layers, ETags, version ordering and staleness.
import { describe, expect, test } from "bun:test";
import { createMemoryCache } from "@careforall/cache";
import { manualClock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import { AppError, createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { campaignSnapshot, waitFor } from "@careforall/testkit";
import { campaignReadHandler, hotCampaignRead } from "../src/routes/campaigns";
import { createSnapshotStore, type SnapshotOrigin, snapshotKey } from "../src/snapshots";

const LOCAL_TTL_MS = 2000;

const snapshot = campaignSnapshot;

/** The campaign service as the store sees it: a map of current snapshots, every call counted. */
function fakeOrigin() {
  const campaigns = new Map<string, CampaignSnapshot>();
  const calls: string[] = [];
  const requestIds: string[] = [];
  let gate: Promise<void> | null = null;
  let failing = false;
  const origin: SnapshotOrigin = {
    async fetch(id, requestId) {
      calls.push(id);
      requestIds.push(requestId);
      if (gate) await gate;
      if (failing) throw new Error("campaign service answered 500");
      return campaigns.get(id) ?? null;
    },
  };
  return {
    origin,
    calls,
    requestIds,
    put(s: CampaignSnapshot) {
      campaigns.set(s.id, s);
      return s;
    },
    /** Holds every origin call until the returned release() runs. */
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = null;
        release();
      };
    },
    fail(on: boolean) {
      failing = on;
    },
  };
}

function setup() {
  const clock = manualClock();
  const cache = createMemoryCache(clock);
  const fake = fakeOrigin();
  const metrics = createHttpMetrics("t");
  const options = {
    cache,
    origin: fake.origin,
    clock,
    log: silentLogger(),
    metrics,
    localTtlMs: LOCAL_TTL_MS,
    redisTtlSeconds: 300,
  };
  const store = createSnapshotStore(options);
  return { clock, cache, fake, metrics, store, options };
}

const request = (id: string, headers: Record<string, string> = {}) =>
  new Request(`http://gateway.test/api/campaigns/${id}`, { headers });

/** serve() may answer synchronously or with a promise; tests only care about the response. */
async function read(store: ReturnType<typeof setup>["store"], id: string, headers: Record<string, string> = {}) {
  return await store.serve(id, request(id, headers));
}

async function bodyOf(res: Response | null): Promise<CampaignSnapshot> {
  expect(res).not.toBeNull();
  expect(res!.status).toBe(200);
  return (await res!.json()) as CampaignSnapshot;
}

describe("cold miss", () => {
  test("50 concurrent requests for an uncached id make one origin call (single flight)", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    const release = fake.hold();
    const pending = Array.from({ length: 50 }, () => read(store, s.id));
    release();
    const responses = await Promise.all(pending);
    expect(fake.calls).toEqual([s.id]);
    const bodies = await Promise.all(responses.map(bodyOf));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toEqual(s);
  });

  test("the origin's answer is written to Redis for the other gateways", async () => {
    const { store, fake, cache } = setup();
    const s = fake.put(snapshot({ version: 4 }));
    await bodyOf(await read(store, s.id));
    const shared = await cache.getVersioned(snapshotKey(s.id));
    expect(shared?.version).toBe(4);
    expect(JSON.parse(shared!.value)).toEqual(s);
  });

  test("another gateway's cold miss is answered from Redis without an origin call", async () => {
    const first = setup();
    const s = first.fake.put(snapshot({ version: 2 }));
    await bodyOf(await read(first.store, s.id));
    expect(first.fake.calls).toHaveLength(1);

    const otherOrigin = fakeOrigin();
    const replica = createSnapshotStore({
      ...first.options,
      origin: otherOrigin.origin,
      metrics: createHttpMetrics("t2"),
    });
    expect(await bodyOf(await read(replica, s.id))).toEqual(s);
    expect(otherOrigin.calls).toHaveLength(0);
  });

  test("an origin failure on a cold miss rejects (the caller turns it into a 503)", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    fake.fail(true);
    await expect(Promise.resolve(store.serve(s.id, request(s.id)))).rejects.toThrow("answered 500");
    fake.fail(false);
    expect(await bodyOf(await read(store, s.id))).toEqual(s);
  });
});

describe("memory hit", () => {
  test("answers synchronously with no origin call", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    await read(store, s.id);
    expect(fake.calls).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      const served = store.serve(s.id, request(s.id));
      expect(served).toBeInstanceOf(Response);
      expect(await bodyOf(served as Response)).toEqual(s);
    }
    expect(fake.calls).toHaveLength(1);
  });

  test("a fresh entry is served without any I/O even when Redis is unreachable", async () => {
    const { store, fake, cache } = setup();
    const s = fake.put(snapshot());
    await read(store, s.id);
    cache.getVersioned = () => Promise.reject(new Error("redis down"));
    const served = store.serve(s.id, request(s.id));
    expect(served).toBeInstanceOf(Response);
    expect(fake.calls).toHaveLength(1);
  });
});

describe("ETag and conditional requests", () => {
  test('the ETag is "v<version>"', async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 7 }));
    const res = (await read(store, s.id))!;
    expect(res.headers.get("etag")).toBe('"v7"');
    expect(res.headers.get("content-type")).toBe("application/json");
    // Deliberately no Cache-Control on the hot read: with an ETag and no Last-Modified, caches revalidate.
    expect(res.headers.get("cache-control")).toBeNull();
  });

  test("If-None-Match with the current ETag → 304 with no body", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 3 }));
    await read(store, s.id);
    const res = (await read(store, s.id, { "if-none-match": '"v3"' }))!;
    expect(res.status).toBe(304);
    expect(await res.text()).toBe("");
    expect(res.headers.get("etag")).toBe('"v3"');
  });

  test("a cold miss with a matching If-None-Match also answers 304", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 3 }));
    const res = (await read(store, s.id, { "if-none-match": '"v3"' }))!;
    expect(res.status).toBe(304);
  });

  test("a stale ETag gets the full body with the new ETag", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    await read(store, s.id);
    await store.apply({ ...s, version: 2, title: "Changed" });
    const res = (await read(store, s.id, { "if-none-match": '"v1"' }))!;
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"v2"');
    expect((await res.json()).title).toBe("Changed");
  });

  test("If-None-Match lists, weak validators and * are understood (RFC 9110 §13.1.2)", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 5 }));
    await read(store, s.id);
    for (const header of ['"v4", "v5"', 'W/"v5"', "*", ' "v5" ']) {
      expect({ header, status: (await read(store, s.id, { "if-none-match": header }))!.status }).toEqual({
        header,
        status: 304,
      });
    }
    for (const header of ['"v4"', '"v55"', "v5", '"v4", W/"v6"']) {
      expect({ header, status: (await read(store, s.id, { "if-none-match": header }))!.status }).toEqual({
        header,
        status: 200,
      });
    }
  });
});

describe("apply (campaign.* events)", () => {
  test("a newer version replaces the body and is written to Redis", async () => {
    const { store, fake, cache } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    await read(store, s.id);
    const newer = { ...s, version: 2, status: "closed" as const, raisedMinor: 1500 };
    await store.apply(newer);
    expect(store.versionOf(s.id)).toBe(2);
    expect(await bodyOf(await read(store, s.id))).toEqual(newer);
    expect((await cache.getVersioned(snapshotKey(s.id)))?.version).toBe(2);
    expect(fake.calls).toHaveLength(1);
  });

  test("an older version is ignored: the snapshot never goes backwards", async () => {
    const { store, cache } = setup();
    const s = snapshot({ version: 5, title: "Version five" });
    await store.apply(s);
    await store.apply({ ...s, version: 4, title: "Version four" });
    await store.apply({ ...s, version: 1, title: "Version one" });
    expect(store.versionOf(s.id)).toBe(5);
    expect((await bodyOf(await read(store, s.id))).title).toBe("Version five");
    const shared = await cache.getVersioned(snapshotKey(s.id));
    expect(shared?.version).toBe(5);
    expect(JSON.parse(shared!.value).title).toBe("Version five");
  });

  test("a Redis failure does not fail apply: the local snapshot is current regardless", async () => {
    const { store, cache } = setup();
    const s = snapshot({ version: 2 });
    cache.setVersioned = () => Promise.reject(new Error("redis down"));
    await store.apply(s);
    expect(store.versionOf(s.id)).toBe(2);
    expect(await bodyOf(await read(store, s.id))).toEqual(s);
  });

  test("applying an id never read before serves it from memory with no origin call", async () => {
    const { store, fake } = setup();
    const s = snapshot({ version: 3 });
    await store.apply(s);
    const served = store.serve(s.id, request(s.id));
    expect(served).toBeInstanceOf(Response);
    expect(await bodyOf(served as Response)).toEqual(s);
    expect(fake.calls).toHaveLength(0);
  });

  test("a Redis entry newer than this gateway's is not overwritten by an older event", async () => {
    const { store, cache } = setup();
    const s = snapshot({ version: 2 });
    await cache.setVersioned(snapshotKey(s.id), 9, JSON.stringify({ ...s, version: 9 }), 300);
    await store.apply(s);
    expect((await cache.getVersioned(snapshotKey(s.id)))?.version).toBe(9);
  });

  test("an event applied while a cold read is in flight is not undone by the older origin answer", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 1, title: "Old" }));
    const release = fake.hold();
    const pending = read(store, s.id);
    await waitFor(() => fake.calls.length === 1, { what: "origin call" });
    await store.apply({ ...s, version: 2, title: "New" });
    release();
    expect((await bodyOf(await pending)).title).toBe("New");
    expect(store.versionOf(s.id)).toBe(2);
  });
});

describe("staleness", () => {
  test("after localTtlMs the stale entry is still served while a background refresh runs", async () => {
    const { store, fake, clock } = setup();
    const s = fake.put(snapshot({ version: 1, title: "Old" }));
    await read(store, s.id);
    fake.put({ ...s, version: 2, title: "New" });
    const release = fake.hold();
    clock.advance(LOCAL_TTL_MS + 1);

    const stale = store.serve(s.id, request(s.id));
    expect(stale).toBeInstanceOf(Response);
    expect((await bodyOf(stale as Response)).title).toBe("Old");
    // Only one refresh starts, however many requests see the stale entry.
    for (let i = 0; i < 5; i++) expect(store.serve(s.id, request(s.id))).toBeInstanceOf(Response);

    release();
    await waitFor(() => store.versionOf(s.id) === 2, { what: "background refresh" });
    expect(fake.calls).toHaveLength(2);
    expect((await bodyOf(await read(store, s.id))).title).toBe("New");
  });

  test("within localTtlMs there is no refresh at all", async () => {
    const { store, fake, clock } = setup();
    const s = fake.put(snapshot());
    await read(store, s.id);
    clock.advance(LOCAL_TTL_MS);
    await read(store, s.id);
    expect(fake.calls).toHaveLength(1);
  });

  test("a missed event is caught up from the origin even though Redis holds the same stale version", async () => {
    // The local TTL is what bounds staleness when an event is lost: Redis was written by this very
    // gateway with the same old version, so it cannot be the only thing the refresh consults.
    const { store, fake, clock } = setup();
    const s = fake.put(snapshot({ version: 1, status: "active" }));
    await read(store, s.id);
    fake.put({ ...s, version: 2, status: "closed" });
    clock.advance(LOCAL_TTL_MS + 1);
    await read(store, s.id);
    await waitFor(() => store.versionOf(s.id) === 2, { what: "refresh from the origin" });
    expect((await bodyOf(await read(store, s.id))).status).toBe("closed");
  });

  test("a newer snapshot in Redis (from another gateway) is picked up without an origin call", async () => {
    const { store, fake, clock, cache } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    await read(store, s.id);
    const newer = { ...s, version: 3, raisedMinor: 900 };
    await cache.setVersioned(snapshotKey(s.id), 3, JSON.stringify(newer), 300);
    clock.advance(LOCAL_TTL_MS + 1);
    await read(store, s.id);
    await waitFor(() => store.versionOf(s.id) === 3, { what: "refresh from Redis" });
    expect(fake.calls).toHaveLength(1);
    expect(await bodyOf(await read(store, s.id))).toEqual(newer);
  });

  test("a failing background refresh keeps serving the last good snapshot", async () => {
    const { store, fake, clock } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    await read(store, s.id);
    fake.fail(true);
    clock.advance(LOCAL_TTL_MS + 1);
    await read(store, s.id);
    await waitFor(() => fake.calls.length === 2, { what: "refresh attempt" });
    expect(await bodyOf(await read(store, s.id))).toEqual(s);
  });
});

describe("unknown and invalid ids", () => {
  test("an unknown id → null, and is remembered as missing for localTtlMs", async () => {
    const { store, fake, clock } = setup();
    const id = Bun.randomUUIDv7();
    expect(await read(store, id)).toBeNull();
    expect(fake.calls).toEqual([id]);
    clock.advance(LOCAL_TTL_MS - 1);
    expect(await read(store, id)).toBeNull();
    expect(fake.calls).toHaveLength(1);
    clock.advance(2);
    expect(await read(store, id)).toBeNull();
    expect(fake.calls).toHaveLength(2);
  });

  test("50 concurrent requests for an unknown id make one origin call", async () => {
    const { store, fake } = setup();
    const id = Bun.randomUUIDv7();
    const release = fake.hold();
    const pending = Array.from({ length: 50 }, () => read(store, id));
    release();
    expect(new Set(await Promise.all(pending))).toEqual(new Set([null]));
    expect(fake.calls).toHaveLength(1);
  });

  test("an id remembered as missing is served as soon as an event creates it", async () => {
    const { store } = setup();
    const s = snapshot();
    expect(await read(store, s.id)).toBeNull();
    await store.apply(s);
    expect(await bodyOf(await read(store, s.id))).toEqual(s);
  });

  test("a flood of distinct unknown ids does not grow memory without bound", async () => {
    const { store, fake, clock } = setup();
    const first = Bun.randomUUIDv7();
    await read(store, first);
    for (let i = 0; i < 20_000; i++) await read(store, Bun.randomUUIDv7());
    // The oldest negative entries were evicted, so the first id is asked for again.
    clock.advance(1);
    fake.calls.length = 0;
    await read(store, first);
    expect(fake.calls).toEqual([first]);
  });

  test("case variants of one id share a single entry, which events keep current", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    const upper = s.id.toUpperCase();
    await read(store, s.id);
    const variant = store.serve(upper, request(upper));
    expect(variant).toBeInstanceOf(Response);
    expect(fake.calls).toHaveLength(1);
    await store.apply({ ...s, version: 2, title: "Updated" });
    expect((await bodyOf(await read(store, upper))).title).toBe("Updated");
    expect((await bodyOf(await read(store, `${s.id.slice(0, 10).toUpperCase()}${s.id.slice(10)}`))).version).toBe(2);
  });

  test("a cold miss for an upper-case id asks the origin with the canonical id", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    expect(await bodyOf(await read(store, s.id.toUpperCase()))).toEqual(s);
    expect(fake.calls).toEqual([s.id]);
  });

  test("an invalid uuid → null without an origin call", async () => {
    const { store, fake } = setup();
    for (const id of ["not-a-uuid", "", "123", "0193e3f0-0000-7000-8000-00000000000g", "../../admin"]) {
      expect(await read(store, id)).toBeNull();
    }
    expect(fake.calls).toHaveLength(0);
  });
});

describe("response headers and metrics", () => {
  test("200 and 304 carry X-Request-Id (echoed when sent) and nosniff", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    const cold = (await read(store, s.id, { "x-request-id": "req-cold-1" }))!;
    expect(cold.headers.get("x-request-id")).toBe("req-cold-1");
    const ok = (await read(store, s.id, { "x-request-id": "req-123" }))!;
    const notModified = (await read(store, s.id, { "if-none-match": '"v1"', "x-request-id": "req-456" }))!;
    const minted = (await read(store, s.id))!;
    expect(ok.headers.get("x-request-id")).toBe("req-123");
    expect(notModified.headers.get("x-request-id")).toBe("req-456");
    expect(minted.headers.get("x-request-id")).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    for (const res of [cold, ok, notModified, minted]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  test("a cold miss without a client id answers with the same minted id it sent to the origin", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    const res = (await read(store, s.id))!;
    expect(fake.requestIds).toHaveLength(1);
    expect(res.headers.get("x-request-id")).toBe(fake.requestIds[0]!);
  });

  test("a cold miss forwards the client's request id to the origin", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    await read(store, s.id, { "x-request-id": "trace-me-1" });
    expect(fake.requestIds).toEqual(["trace-me-1"]);
  });

  test("each response gets its own X-Request-Id (shared headers are copied, not mutated)", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    const a = (await read(store, s.id, { "x-request-id": "a-1" }))!;
    const b = (await read(store, s.id, { "x-request-id": "b-2" }))!;
    expect([a.headers.get("x-request-id"), b.headers.get("x-request-id")]).toEqual(["a-1", "b-2"]);
  });

  test("requests are counted under the route template, never the raw id", async () => {
    const { store, fake, metrics } = setup();
    const s = fake.put(snapshot({ version: 1 }));
    await read(store, s.id);
    await read(store, s.id);
    await read(store, s.id, { "if-none-match": '"v1"' });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'careforall_http_requests_total{method="GET",route="/api/campaigns/:id",status="200",service="t"} 2',
    );
    expect(text).toContain(
      'careforall_http_requests_total{method="GET",route="/api/campaigns/:id",status="304",service="t"} 1',
    );
    expect(text).toMatch(/careforall_gateway_snapshot_lookups_total\{layer="origin",service="t"\} 1/);
    expect(text).toMatch(/careforall_gateway_snapshot_lookups_total\{layer="memory",service="t"\} 2/);
    expect(text).not.toContain(s.id);
  });
});

describe("campaignReadHandler", () => {
  const problemOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return (err as AppError).toProblem();
    }
    throw new Error("expected a problem");
  };

  test("an invalid id → 400 naming the id", async () => {
    const { store } = setup();
    const problem = await problemOf(campaignReadHandler(store)(request("nope"), "nope"));
    expect(problem.status).toBe(400);
    expect(problem.errors).toEqual([{ path: "id", message: "Expected a UUID" }]);
  });

  test("an unknown id → 404", async () => {
    const { store } = setup();
    const id = Bun.randomUUIDv7();
    expect((await problemOf(campaignReadHandler(store)(request(id), id))).status).toBe(404);
  });

  test("a known id → the snapshot (id taken from Bun's route params)", async () => {
    const { store, fake } = setup();
    const s = fake.put(snapshot());
    const req = Object.assign(request(s.id), { params: { id: s.id } });
    expect(await bodyOf(await campaignReadHandler(store)(req))).toEqual(s);
  });
});

describe("hotCampaignRead (the Bun native route)", () => {
  const hot = (ctx: ReturnType<typeof setup>) =>
    hotCampaignRead({ snapshots: ctx.store, log: silentLogger(), metrics: ctx.metrics });
  const routed = (id: string, headers: Record<string, string> = {}) =>
    Object.assign(request(id, headers), { params: { id } });

  async function expectHotProblem(res: Response, status: number) {
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const text = await res.text();
    expect(text).not.toMatch(/\bat \S+ \(|\.ts:\d+/);
    const body = JSON.parse(text);
    expect([body.status, typeof body.type, typeof body.title]).toEqual([status, "string", "string"]);
    return body;
  }

  test("a known id → 200 with the snapshot", async () => {
    const ctx = setup();
    const s = ctx.fake.put(snapshot());
    expect(await bodyOf(await hot(ctx)(routed(s.id)))).toEqual(s);
  });

  test("an invalid id → 400 problem naming the id, with the client's request id", async () => {
    const ctx = setup();
    const res = await hot(ctx)(routed("nope", { "x-request-id": "client-400" }));
    const body = await expectHotProblem(res, 400);
    expect(body.errors).toEqual([{ path: "id", message: "Expected a UUID" }]);
    expect(res.headers.get("x-request-id")).toBe("client-400");
  });

  test("an unknown id → 404 problem whose request id matches the origin call's", async () => {
    const ctx = setup();
    const res = await hot(ctx)(routed(Bun.randomUUIDv7()));
    await expectHotProblem(res, 404);
    expect(res.headers.get("x-request-id")).toBe(ctx.fake.requestIds[0]!);
  });

  test("an origin failure → 503 problem without internals", async () => {
    const ctx = setup();
    const s = ctx.fake.put(snapshot());
    ctx.fake.fail(true);
    const body = await expectHotProblem(await hot(ctx)(routed(s.id)), 503);
    expect(JSON.stringify(body)).not.toContain("answered 500");
  });

  test("problems are counted under the route template too", async () => {
    const ctx = setup();
    const id = Bun.randomUUIDv7();
    await hot(ctx)(routed(id));
    await hot(ctx)(routed("nope"));
    const text = await ctx.metrics.registry.metrics();
    expect(text).toContain(
      'careforall_http_requests_total{method="GET",route="/api/campaigns/:id",status="404",service="t"} 1',
    );
    expect(text).toContain(
      'careforall_http_requests_total{method="GET",route="/api/campaigns/:id",status="400",service="t"} 1',
    );
    expect(text).not.toContain(id);
  });
});
