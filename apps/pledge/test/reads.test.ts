// Reading pledges: who may read one (invariant 6: others get 404, never 403), the donor's own list
// and the admin list with cursors, the ledger the audit uses, the internal captured list, and the
// business gauges on /metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serviceHeaders } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import type { PledgeModel } from "../src/model";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;
const alice = user("alice");
const bob = user("bob");
const root = user("root", "admin");

beforeAll(async () => {
  h = await startPledgeTestApp({ stuckAfterSeconds: 120 });
  campaignId = (await h.campaign()).id;
  h.withAccount(alice);
  h.withAccount(bob);
});
afterAll(async () => {
  await h.stop();
});

async function all<T>(path: string, as: ReturnType<typeof user>, limit: number): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const res = await h.call("GET", `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { as });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: T[]; nextCursor: string | null };
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

describe("GET /pledges/:id", () => {
  test("the donor and an admin read it; another donor and a guest get 404", async () => {
    const p = await h.createPledge(alice, campaignId);
    const mine = await h.call("GET", `/pledges/${p.id}`, { as: alice });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual(p);
    const admin = await h.call("GET", `/pledges/${p.id}`, { as: root });
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual(p);
    await expectProblem(await h.call("GET", `/pledges/${p.id}`, { as: bob }), 404);
    await expectProblem(await h.call("GET", `/pledges/${p.id}`), 404);
  });

  test("a bad token → 401; a bad id → 400", async () => {
    await expectProblem(await h.call("GET", `/pledges/${Bun.randomUUIDv7()}`, { token: "nope" }), 401);
    await expectProblem(await h.call("GET", "/pledges/nope", { as: alice }), 400);
  });

  test("is typed end to end through an Eden client", async () => {
    const p = await h.createPledge(alice, campaignId);
    const api = treaty(h.app);
    const { data, status } = await api.pledges({ id: p.id }).get({
      // As the gateway calls: its service credential, and the donor's token.
      headers: { authorization: `Bearer ${await h.tokenFor(alice)}`, ...(await serviceHeaders("pledge")) },
    });
    expect(status).toBe(200);
    expect(data?.id).toBe(p.id);
  });
});

describe("GET /me/pledges", () => {
  test("only the caller's own pledges, newest first, across pages", async () => {
    const carol = h.withAccount(user("carol"));
    const dave = h.withAccount(user("dave"));
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await h.createPledge(carol, campaignId, { amountMinor: 100 + i })).id);
    await h.createPledge(dave, campaignId);
    const items = await all<PledgeModel.Pledge>("/me/pledges", carol, 3);
    expect(items.map((p) => p.id)).toEqual([...created].reverse());
    expect(items.every((p) => p.donorId === carol.id && p.history.length === 1)).toBe(true);
    const first = (await (await h.call("GET", "/me/pledges?limit=3", { as: carol })).json()) as PledgeModel.PledgePage;
    expect(first.items).toHaveLength(3);
    expect(first.nextCursor).toBeString();
  });

  test("nobody's pledges → an empty page; no token → 401; a foreign cursor → 400", async () => {
    const page = await (await h.call("GET", "/me/pledges", { as: user("nobody") })).json();
    expect(page).toEqual({ items: [], nextCursor: null });
    await expectProblem(await h.call("GET", "/me/pledges"), 401);
    const problem = await expectProblem(await h.call("GET", "/me/pledges?cursor=garbage", { as: alice }), 400);
    expect(problem.errors?.[0]?.path).toBe("cursor");
    await expectProblem(await h.call("GET", "/me/pledges?limit=101", { as: alice }), 400);
  });
});

describe("admin", () => {
  test("/admin/pledges?status= filters, pages newest first; donors get 403", async () => {
    const erin = h.withAccount(user("erin"));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await h.createPledge(erin, campaignId);
      await h.payment("payment.failed", p, { reason: "declined" });
      ids.push(p.id);
    }
    const failed = await all<PledgeModel.Pledge>("/admin/pledges?status=failed", root, 3);
    expect(failed.every((p) => p.status === "failed")).toBe(true);
    expect(failed.map((p) => p.id).filter((id) => ids.includes(id))).toEqual([...ids].reverse());
    const everything = await all<PledgeModel.Pledge>("/admin/pledges", root, 50);
    expect(everything.length).toBeGreaterThan(failed.length);
    await expectProblem(await h.call("GET", "/admin/pledges", { as: alice }), 403);
    await expectProblem(await h.call("GET", "/admin/pledges"), 401);
    await expectProblem(await h.call("GET", "/admin/pledges?status=lost", { as: root }), 400);
  });

  test("/admin/ledger sums captured minus refunded per campaign and counts stuck pledges", async () => {
    const c1 = (await h.campaign()).id;
    const c2 = (await h.campaign()).id;
    const amounts = { c1: [1_000, 2_500, 700], c2: [10_000] };
    const c1Pledges = [];
    for (const amountMinor of amounts.c1) {
      const p = await h.createPledge(alice, c1, { amountMinor });
      await h.payment("payment.captured", p);
      c1Pledges.push(p);
    }
    // One refunded (nets to zero), one failed and one pending (not money).
    await h.call("POST", `/pledges/${c1Pledges[2]!.id}/refund`, { as: root });
    await h.payment("payment.refunded", c1Pledges[2]!);
    await h.payment("payment.failed", await h.createPledge(alice, c1, { amountMinor: 999 }));
    const pending = await h.createPledge(bob, c2, { amountMinor: 5_000 });
    const c2Captured = await h.createPledge(bob, c2, { amountMinor: 10_000 });
    await h.payment("payment.captured", c2Captured);
    const authorized = await h.createPledge(bob, c2, { amountMinor: 300 });
    await h.payment("payment.authorized", authorized);

    const ledgerNow = async () => {
      const res = await h.call("GET", "/admin/ledger", { as: root });
      expect(res.status).toBe(200);
      return (await res.json()) as PledgeModel.Ledger;
    };
    const before = await ledgerNow();
    const entry = (l: PledgeModel.Ledger, id: string) => l.campaigns.find((c) => c.campaignId === id);
    expect(entry(before, c1)).toEqual({ campaignId: c1, capturedMinusRefundedMinor: 3_500, capturedCount: 2 });
    expect(entry(before, c2)).toEqual({ campaignId: c2, capturedMinusRefundedMinor: 10_000, capturedCount: 1 });
    expect(before.checkedAt).toBe(h.clock.date().toISOString());

    // Past the grace period, every pledge still pending or authorized counts as stuck.
    const openBefore = before.stuckPledges;
    h.clock.advance(121_000);
    const after = await ledgerNow();
    expect(after.stuckPledges).toBeGreaterThanOrEqual(openBefore + 2);
    await h.payment("payment.captured", pending);
    await h.payment("payment.expired", authorized);
    expect((await ledgerNow()).stuckPledges).toBe(after.stuckPledges - 2);
    await expectProblem(await h.call("GET", "/admin/ledger", { as: alice }), 403);
  });
});

describe("GET /campaigns/:id/captured (internal)", () => {
  test("lists the campaign's captured pledges oldest first with capturedAt, across pages", async () => {
    const c = (await h.campaign()).id;
    const capturedIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await h.createPledge(i % 2 ? alice : bob, c, { amountMinor: 1_000 + i, anonymous: i === 0 });
      h.clock.advance(1_000);
      if (i !== 3) {
        await h.payment("payment.captured", p);
        capturedIds.push(p.id);
      }
    }
    const items: PledgeModel.CapturedPledge[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.call("GET", `/campaigns/${c}/captured?limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
        as: root,
      });
      expect(res.status).toBe(200);
      const page = (await res.json()) as PledgeModel.CapturedPage;
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(items.map((i) => i.pledgeId)).toEqual(capturedIds);
    expect(items[0]).toMatchObject({
      campaignId: c,
      donorKey: bob.id,
      donorName: "bob",
      anonymous: true,
      amountMinor: 1_000,
    });
    expect(items.every((i) => typeof i.capturedAt === "string")).toBe(true);
  });

  test("donors' names and keys are an operator's read: the gateway alone, for an administrator", async () => {
    const c = (await h.campaign()).id;
    await expectProblem(await h.call("GET", `/campaigns/${c}/captured`), 401);
    await expectProblem(await h.call("GET", `/campaigns/${c}/captured`, { as: alice }), 403);
    await expectProblem(await h.call("GET", `/campaigns/${c}/captured`, { as: root, caller: "payment" }), 403);
  });
});

describe("/metrics", () => {
  test("pledges by status and idempotent replays are exported", async () => {
    await h.pledgeAs(alice, campaignId, {}, "metrics-key");
    await h.pledgeAs(alice, campaignId, {}, "metrics-key");
    const text = await (await h.call("GET", "/metrics")).text();
    expect(text).toMatch(/careforall_pledges_by_status\{status="pending",service="pledge"\} \d+/);
    expect(text).toMatch(/careforall_pledges_by_status\{status="refunded",service="pledge"\} [1-9]/);
    expect(text).toMatch(/careforall_pledge_idempotent_replays_total\{service="pledge"\} [1-9]/);
    expect(text).toContain('route="/campaigns/:id/pledges"');
  });
});
