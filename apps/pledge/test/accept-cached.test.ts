// The one-statement accept (a grant already cached, so no bank call and no separate key claim):
// every Idempotency-Key promise of the claim path holds here too — one pledge for concurrent
// duplicates, byte-identical replays with the guest's receipt token, stored rejections for a
// closed campaign or another currency, nothing stored for an unknown campaign, and dead claims
// taken over only by the same request after the lock (invariants 1 and 5).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { idempotencyKeys, outbox, pledgeHistory, pledges } from "../src/db/schema";
import { canonicalRequest, requestHash } from "../src/domain";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;

beforeAll(async () => {
  h = await startPledgeTestApp({ cacheGrants: true });
  campaignId = (await h.campaign()).id;
});
afterAll(async () => {
  await h.stop();
});

const count = async (where = sql`true`) =>
  (await h.db.select({ n: sql<number>`count(*)::int` }).from(pledges).where(where))[0]!.n;

const keyRow = async (scope: string, key: string) =>
  (
    await h.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
  )[0];

/** A donor whose grant is in the cache after one pledge; returns the bank calls made so far. */
async function warmed(name: string) {
  const u = h.withAccount(user(name));
  expect((await h.pledgeAs(u, campaignId)).status).toBe(202);
  return { u, callsAfterWarmUp: h.bank.calls.length };
}

describe("one statement when the grant is cached", () => {
  test("the pledge, its history, its event and the key's answer are written; the bank is not asked", async () => {
    const { u, callsAfterWarmUp } = await warmed("cora");
    const res = await h.pledgeAs(u, campaignId, { amountMinor: 4_200, message: "সবার জন্য" }, "cora-1");
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; history: Array<{ status: string }> };
    expect(h.bank.calls.length).toBe(callsAfterWarmUp);
    expect(body.status).toBe("pending");
    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, body.id));
    expect(row).toMatchObject({ amountMinor: 4_200, message: "সবার জন্য", status: "pending", donorId: u.id });
    const history = await h.db.select().from(pledgeHistory).where(eq(pledgeHistory.pledgeId, body.id));
    expect(history.map((x) => x.status)).toEqual(["pending"]);
    const events = await h.eventsFor(body.id);
    expect(events.map((e) => e.type)).toEqual(["pledge.created"]);
    expect((events[0]!.data as { source: { grant: string } }).source.grant).toMatch(/^grant:/);
    const key = await keyRow(`user:${u.id}`, "cora-1");
    expect(key).toMatchObject({ state: "done", responseStatus: 202, pledgeId: body.id });
  });

  test("50 at once with one key → one pledge and one event; the rest replay it byte for byte or get 409", async () => {
    const { u, callsAfterWarmUp } = await warmed("dina");
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => h.pledgeAs(u, campaignId, { amountMinor: 7_000 }, "dina-50")),
    );
    const fresh = responses.filter((r) => r.status === 202 && r.headers.get("idempotent-replayed") === null);
    const replays = responses.filter((r) => r.status === 202 && r.headers.get("idempotent-replayed") === "true");
    expect(fresh).toHaveLength(1);
    expect(replays.length + responses.filter((r) => r.status === 409).length).toBe(49);
    const first = await fresh[0]!.text();
    for (const r of replays) expect(await r.text()).toBe(first);
    expect(await count(and(eq(pledges.donorId, u.id), eq(pledges.amountMinor, 7_000)))).toBe(1);
    const id = (JSON.parse(first) as { id: string }).id;
    expect((await h.eventsFor(id)).filter((e) => e.type === "pledge.created")).toHaveLength(1);
    expect(h.bank.calls.length).toBe(callsAfterWarmUp);
  });

  test("a guest's replay carries the same receipt token; another secret is another request (422)", async () => {
    const source = h.bank.open(`acct_guest_${Bun.randomUUIDv7()}`, "guest-secret");
    const body = { amountMinor: 1_500, currency: "BDT", donor: { email: "Guest@Example.test", name: "নুসরাত" }, source };
    const post = (b: unknown, key: string) =>
      h.call("POST", `/campaigns/${campaignId}/pledges`, { body: b, headers: { "idempotency-key": key } });
    expect((await post(body, "guest-warm")).status).toBe(202);
    const first = await post(body, "guest-1");
    const replay = await post({ ...body, donor: { ...body.donor, email: "guest@example.test" } }, "guest-1");
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const a = (await first.json()) as { receiptToken: string };
    const b = (await replay.json()) as { receiptToken: string };
    expect(a.receiptToken).toBeString();
    expect(b.receiptToken).toBe(a.receiptToken);
    await expectProblem(await post({ ...body, source: { ...source, accountSecret: "other" } }, "guest-1"), 422);
  });

  test("a closed campaign → 409 stored and replayed; no pledge, no event", async () => {
    const { u } = await warmed("emil");
    const closed = await h.campaign();
    await h.campaign({ ...closed, status: "closed", version: 2 });
    const first = await expectProblem(await h.pledgeAs(u, closed.id, {}, "emil-closed"), 409);
    const again = await h.pledgeAs(u, closed.id, {}, "emil-closed");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await expectProblem(again, 409)).detail).toBe(first.detail!);
    expect(await count(eq(pledges.campaignId, closed.id))).toBe(0);
    expect((await keyRow(`user:${u.id}`, "emil-closed"))?.responseStatus).toBe(409);
  });

  test("another currency → 422 naming both currencies, stored", async () => {
    const { u } = await warmed("femi");
    const usd = await h.campaign({ currency: "USD" });
    const problem = await expectProblem(await h.pledgeAs(u, usd.id, { currency: "BDT" }, "femi-usd"), 422);
    expect(problem.detail).toContain("USD");
    expect(problem.detail).toContain("BDT");
    expect((await keyRow(`user:${u.id}`, "femi-usd"))?.responseStatus).toBe(422);
  });

  test("an unknown campaign → 404 and nothing stored, so the same key works once the campaign is known", async () => {
    const { u } = await warmed("gita");
    const soon = Bun.randomUUIDv7();
    await expectProblem(await h.pledgeAs(u, soon, {}, "gita-1"), 404);
    expect(await keyRow(`user:${u.id}`, "gita-1")).toBeUndefined();
    await h.campaign({ id: soon });
    expect((await h.pledgeAs(u, soon, {}, "gita-1")).status).toBe(202);
  });

  test("a dead request's claim: 409 while its lock holds, then taken over by the same request only", async () => {
    const { u } = await warmed("hana");
    const scope = `user:${u.id}`;
    const request = { amountMinor: 1_000, currency: "BDT" as const };
    await h.db.insert(idempotencyKeys).values({
      scope,
      key: "hana-1",
      requestHash: requestHash(canonicalRequest(campaignId, request)),
      state: "in_flight",
      lockId: Bun.randomUUIDv7(),
      lockedAt: h.clock.date(),
      createdAt: h.clock.date(),
      expiresAt: new Date(h.clock.now() + 86_400_000),
    });
    await expectProblem(await h.pledgeAs(u, campaignId, request, "hana-1"), 409);
    await expectProblem(await h.pledgeAs(u, campaignId, { ...request, amountMinor: 1_001 }, "hana-1"), 422);
    h.clock.advance(61_000);
    await expectProblem(await h.pledgeAs(u, campaignId, { ...request, amountMinor: 1_001 }, "hana-1"), 422);
    const taken = await h.pledgeAs(u, campaignId, request, "hana-1");
    expect(taken.status).toBe(202);
    expect(taken.headers.get("idempotent-replayed")).toBeNull();
    expect((await keyRow(scope, "hana-1"))?.state).toBe("done");
  });

  test("if the outbox write fails, nothing of the statement is kept: no pledge, no key", async () => {
    const { u } = await warmed("ivan");
    const before = await count(eq(pledges.donorId, u.id));
    // A trigger makes the statement's last insert (the outbox row) fail.
    await h.db.execute(sql`create or replace function pledge.fail_outbox() returns trigger language plpgsql as
      $$ begin raise exception 'outbox down'; end $$`);
    await h.db.execute(
      sql`create trigger fail_outbox before insert on pledge.outbox for each row execute function pledge.fail_outbox()`,
    );
    try {
      expect((await h.pledgeAs(u, campaignId, {}, "ivan-1")).status).toBe(500);
    } finally {
      await h.db.execute(sql`drop trigger fail_outbox on pledge.outbox`);
    }
    expect(await count(eq(pledges.donorId, u.id))).toBe(before);
    expect(await keyRow(`user:${u.id}`, "ivan-1")).toBeUndefined();
    expect((await h.pledgeAs(u, campaignId, {}, "ivan-1")).status).toBe(202);
    expect(await h.db.select().from(outbox).where(eq(outbox.type, "pledge.created"))).not.toHaveLength(0);
  });
});
