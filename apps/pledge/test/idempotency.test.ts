// Idempotency-Key on pledge creation, decided by the database: concurrent duplicates, replays
// byte for byte, another body under the same key, per-donor scopes, schema failures that store
// nothing, an unreachable bank that frees the key, stale in-flight keys and expiry (invariant 1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { idempotencyKeys, outbox, pledges } from "../src/db/schema";
import { canonicalRequest, requestHash } from "../src/domain";
import type { PledgeModel } from "../src/model";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
});
afterAll(async () => {
  await h.stop();
});

async function pledgeCount(where = sql`true`) {
  const [row] = await h.db.select({ n: sql<number>`count(*)::int` }).from(pledges).where(where);
  return row!.n;
}

async function createdEvents(donorId: string) {
  const rows = await h.db.select().from(outbox).where(eq(outbox.type, "pledge.created"));
  return rows.filter((r) => (r.envelope.data as { donorId: string | null }).donorId === donorId);
}

async function keyRow(scope: string, key: string) {
  const [row] = await h.db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
  return row;
}

const guestBody = (email: string, source: { bankAccountId: string; accountSecret: string }, amountMinor = 2_500) => ({
  amountMinor,
  currency: "BDT",
  donor: { email, name: "Guest Donor" },
  source,
});

function guestPledge(body: unknown, key: string) {
  return h.call("POST", `/campaigns/${campaignId}/pledges`, { body, headers: { "idempotency-key": key } });
}

describe("concurrent requests with one key", () => {
  test("50 at once → exactly one pledge and one pledge.created; the rest 409 or replays", async () => {
    const alice = h.withAccount(user("alice"));
    h.bank.delayMs = 30; // keep the first request in flight while the others arrive
    try {
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => h.pledgeAs(alice, campaignId, { amountMinor: 7_000 }, "same-key-50")),
      );
      const statuses = responses.map((r) => r.status);
      const fresh = responses.filter((r) => r.status === 202 && r.headers.get("idempotent-replayed") === null);
      const replays = responses.filter((r) => r.status === 202 && r.headers.get("idempotent-replayed") === "true");
      const inFlight = responses.filter((r) => r.status === 409);
      expect(fresh).toHaveLength(1);
      expect(replays.length + inFlight.length).toBe(49);
      expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
      const first = await fresh[0]!.text();
      for (const r of replays) expect(await r.text()).toBe(first);
      for (const r of inFlight) expect((await expectProblem(r, 409)).type).toContain("idempotency-in-flight");

      expect(await pledgeCount(eq(pledges.donorId, alice.id))).toBe(1);
      expect(await createdEvents(alice.id)).toHaveLength(1);
      // The bank was asked once: the losers never reached phase 2.
      expect(h.bank.calls.filter((c) => c.ownerUserId === alice.id)).toHaveLength(1);
    } finally {
      h.bank.delayMs = 0;
    }
  });
});

describe("replays", () => {
  test("after completion: same status, byte-identical body, Idempotent-Replayed: true, nothing new", async () => {
    const bob = h.withAccount(user("bob"));
    const first = await h.pledgeAs(bob, campaignId, { message: "For the wells", anonymous: true }, "bob-1");
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const firstText = await first.text();
    h.clock.advance(60_000);
    const again = await h.pledgeAs(bob, campaignId, { anonymous: true, message: "For the wells" }, "bob-1");
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(firstText);
    expect(await pledgeCount(eq(pledges.donorId, bob.id))).toBe(1);
    expect(await createdEvents(bob.id)).toHaveLength(1);
  });

  test("a replay shows the answer as it was, not the pledge as it is now", async () => {
    const carol = h.withAccount(user("carol"));
    const first = await h.pledgeAs(carol, campaignId, {}, "carol-1");
    const created = (await first.clone().json()) as PledgeModel.Pledge;
    await h.payment("payment.authorized", created);
    const again = await h.pledgeAs(carol, campaignId, {}, "carol-1");
    expect(await again.text()).toBe(await first.text());
    const now = (await (await h.call("GET", `/pledges/${created.id}`, { as: carol })).json()) as PledgeModel.Pledge;
    expect(now.status).toBe("authorized");
  });

  test("a stored rejection replays too: 402 then the same 402, marked replayed, still no pledge", async () => {
    const dave = user("dave");
    const source = h.bank.open(`acct_dave_${Bun.randomUUIDv7().slice(-8)}`, "right");
    const body = { amountMinor: 1_000, currency: "BDT", source: { ...source, accountSecret: "wrong" } };
    const first = await h.call("POST", `/campaigns/${campaignId}/pledges`, {
      as: dave,
      body,
      headers: { "idempotency-key": "dave-1" },
    });
    const firstText = await first.clone().text();
    await expectProblem(first, 402);
    const again = await h.call("POST", `/campaigns/${campaignId}/pledges`, {
      as: dave,
      body,
      headers: { "idempotency-key": "dave-1" },
    });
    expect(again.status).toBe(402);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toBe("application/problem+json");
    expect(await again.text()).toBe(firstText);
    expect(await pledgeCount(eq(pledges.donorId, dave.id))).toBe(0);
  });

  test("the replay counter counts replays on /metrics", async () => {
    const text = await (await h.call("GET", "/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith("careforall_pledge_idempotent_replays_total"));
    expect(Number(line?.split(" ").at(-1))).toBeGreaterThanOrEqual(3);
  });
});

describe("same key, different request", () => {
  test("a different amount → 422, the first pledge untouched", async () => {
    const erin = h.withAccount(user("erin"));
    expect((await h.pledgeAs(erin, campaignId, { amountMinor: 1_000 }, "erin-1")).status).toBe(202);
    const problem = await expectProblem(await h.pledgeAs(erin, campaignId, { amountMinor: 2_000 }, "erin-1"), 422);
    expect(problem.type).toContain("idempotency-key-reused");
    expect(await pledgeCount(eq(pledges.donorId, erin.id))).toBe(1);
  });

  test("another campaign with the same key → 422", async () => {
    const frank = h.withAccount(user("frank"));
    const other = await h.campaign();
    expect((await h.pledgeAs(frank, campaignId, {}, "frank-1")).status).toBe(202);
    await expectProblem(await h.pledgeAs(frank, other.id, {}, "frank-1"), 422);
  });

  test("key order and an omitted anonymous=false are the same request, not a different one", async () => {
    const gina = h.withAccount(user("gina"));
    const headers = { "idempotency-key": "gina-1", "x-donor-bank-account": gina.bankAccountId };
    const url = `/campaigns/${campaignId}/pledges`;
    const first = await h.call("POST", url, { as: gina, headers, body: { amountMinor: 900, currency: "BDT" } });
    const again = await h.call("POST", url, {
      as: gina,
      headers,
      body: '{"currency":"BDT","anonymous":false,"amountMinor":900}',
    });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(await first.text());
  });
});

describe("scopes", () => {
  test("the same key used by two donors → two pledges", async () => {
    const hank = h.withAccount(user("hank"));
    const ivy = h.withAccount(user("ivy"));
    const a = await h.pledgeAs(hank, campaignId, {}, "shared-key");
    const b = await h.pledgeAs(ivy, campaignId, {}, "shared-key");
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    const [pa, pb] = (await Promise.all([a.json(), b.json()])) as PledgeModel.Pledge[];
    expect(pa!.id).not.toBe(pb!.id);
    expect(pa!.donorId).toBe(hank.id);
    expect(pb!.donorId).toBe(ivy.id);
  });

  test("guests are scoped by donor.email (normalised): same email replays, another email is another pledge", async () => {
    const source = h.bank.open(`acct_guest_${Bun.randomUUIDv7().slice(-8)}`, "guest-secret");
    const first = await guestPledge(guestBody("Guest.One@Example.test", source), "guest-key");
    expect(first.status).toBe(202);
    const firstBody = await first.text();
    const again = await guestPledge(guestBody("GUEST.one@example.TEST", source), "guest-key");
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(firstBody);
    const other = await guestPledge(guestBody("guest.two@example.test", source), "guest-key");
    expect(other.status).toBe(202);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(((await other.json()) as PledgeModel.Pledge).id).not.toBe(JSON.parse(firstBody).id);
  });

  test("a guest key does not collide with a signed-in donor's key", async () => {
    const jack = h.withAccount(user("jack"));
    const source = h.bank.open(`acct_g2_${Bun.randomUUIDv7().slice(-8)}`, "s");
    expect((await guestPledge(guestBody(jack.email, source), "cross-key")).status).toBe(202);
    const signedIn = await h.pledgeAs(jack, campaignId, {}, "cross-key");
    expect(signedIn.status).toBe(202);
    expect(signedIn.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("requests that store nothing", () => {
  test("a 400 (amountMinor 50) stores nothing; the corrected request with the same key succeeds", async () => {
    const kate = h.withAccount(user("kate"));
    const bad = await h.pledgeAs(kate, campaignId, { amountMinor: 50 }, "kate-1");
    const problem = await expectProblem(bad, 400);
    expect(problem.errors?.map((e) => e.path)).toContain("amountMinor");
    expect(await keyRow(`user:${kate.id}`, "kate-1")).toBeUndefined();
    const good = await h.pledgeAs(kate, campaignId, { amountMinor: 5_000 }, "kate-1");
    expect(good.status).toBe(202);
    expect(good.headers.get("idempotent-replayed")).toBeNull();
    expect(((await good.json()) as PledgeModel.Pledge).amountMinor).toBe(5_000);
  });

  test("Idempotency-Key missing, empty, too long or unprintable → 400 naming the header", async () => {
    const leo = h.withAccount(user("leo"));
    const url = `/campaigns/${campaignId}/pledges`;
    const body = { amountMinor: 1_000, currency: "BDT" };
    const missing = await expectProblem(await h.call("POST", url, { as: leo, body }), 400);
    expect(missing.errors?.[0]?.path).toBe("idempotency-key");
    for (const key of ["", "x".repeat(256), "tab\there", "é-key"]) {
      const res = await h.call("POST", url, { as: leo, body, headers: { "idempotency-key": key } }).catch(() => null);
      // Some of these cannot even be sent as a header value; those that can are refused.
      if (res) await expectProblem(res, 400);
    }
    expect((await h.pledgeAs(leo, campaignId, {}, "k".repeat(255))).status).toBe(202);
    expect((await h.pledgeAs(leo, campaignId, {}, "printable ~!@#$%^&*()")).status).toBe(202);
    expect(await pledgeCount(eq(pledges.donorId, leo.id))).toBe(2);
  });

  test("bank unavailable → 503 with nothing stored; the same key then succeeds", async () => {
    const mia = h.withAccount(user("mia"));
    h.bank.unavailable = true;
    try {
      const problem = await expectProblem(await h.pledgeAs(mia, campaignId, {}, "mia-1"), 503);
      expect(problem.detail).toContain("same Idempotency-Key");
    } finally {
      h.bank.unavailable = false;
    }
    expect(await keyRow(`user:${mia.id}`, "mia-1")).toBeUndefined();
    expect(await pledgeCount(eq(pledges.donorId, mia.id))).toBe(0);
    const retry = await h.pledgeAs(mia, campaignId, {}, "mia-1");
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });

  test("an unknown campaign → 404 and the key is released (the read model may just be behind)", async () => {
    const ned = h.withAccount(user("ned"));
    const soon = Bun.randomUUIDv7();
    await expectProblem(await h.pledgeAs(ned, soon, {}, "ned-1"), 404);
    expect(await keyRow(`user:${ned.id}`, "ned-1")).toBeUndefined();
    await h.campaign({ id: soon });
    expect((await h.pledgeAs(ned, soon, {}, "ned-1")).status).toBe(202);
  });
});

describe("key lifetime", () => {
  test("an in-flight key left by a dead request is taken over by the same request after the lock", async () => {
    const olga = h.withAccount(user("olga"));
    const scope = `user:${olga.id}`;
    const request = { amountMinor: 1_000, currency: "BDT" as const };
    // What a process killed between phase 1 and phase 3 leaves behind: a claimed, unfinished key.
    const deadClaim = (key: string, hash: string) =>
      h.db.insert(idempotencyKeys).values({
        scope,
        key,
        requestHash: hash,
        state: "in_flight",
        lockId: Bun.randomUUIDv7(),
        lockedAt: h.clock.date(),
        createdAt: h.clock.date(),
        expiresAt: new Date(h.clock.now() + 86_400_000),
      });
    await deadClaim("olga-1", requestHash(canonicalRequest(campaignId, request)));
    await deadClaim("olga-2", requestHash(canonicalRequest(campaignId, { ...request, amountMinor: 9_999 })));

    // While the lock holds: 409 for the same request, 422 for another.
    await expectProblem(await h.pledgeAs(olga, campaignId, request, "olga-1"), 409);
    await expectProblem(await h.pledgeAs(olga, campaignId, request, "olga-2"), 422);
    h.clock.advance(61_000);
    // After it: the same request takes the key over; another request still never does.
    const taken = await h.pledgeAs(olga, campaignId, request, "olga-1");
    expect(taken.status).toBe(202);
    expect(taken.headers.get("idempotent-replayed")).toBeNull();
    expect((await keyRow(scope, "olga-1"))?.state).toBe("done");
    await expectProblem(await h.pledgeAs(olga, campaignId, request, "olga-2"), 422);
    expect(await pledgeCount(eq(pledges.donorId, olga.id))).toBe(1);
  });

  test("keys are kept 24 hours: a replay at 23 h, a fresh request after expiry", async () => {
    const pete = h.withAccount(user("pete"));
    const first = await h.pledgeAs(pete, campaignId, {}, "pete-1");
    const row = await keyRow(`user:${pete.id}`, "pete-1");
    expect(row!.expiresAt.getTime() - row!.createdAt.getTime()).toBe(24 * 3_600_000);
    h.clock.advance(23 * 3_600_000);
    const replay = await h.pledgeAs(pete, campaignId, {}, "pete-1");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.text()).toBe(await first.text());
    h.clock.advance(2 * 3_600_000);
    const fresh = await h.pledgeAs(pete, campaignId, {}, "pete-1");
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
    expect(await pledgeCount(eq(pledges.donorId, pete.id))).toBe(2);
  });

  test("the sweeper's prune deletes only expired keys", async () => {
    const quinn = h.withAccount(user("quinn"));
    await h.pledgeAs(quinn, campaignId, {}, "quinn-old");
    h.clock.advance(12 * 3_600_000);
    await h.pledgeAs(quinn, campaignId, {}, "quinn-new");
    h.clock.advance(12 * 3_600_000 + 1);
    expect(await h.service.pruneIdempotencyKeys()).toBeGreaterThanOrEqual(1);
    expect(await keyRow(`user:${quinn.id}`, "quinn-old")).toBeUndefined();
    expect(await keyRow(`user:${quinn.id}`, "quinn-new")).toBeDefined();
  });
});
