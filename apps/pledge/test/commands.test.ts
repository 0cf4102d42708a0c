// Cancel and refund over HTTP: who may do them (invariant 6: others' pledges are 404), from which
// states (else 409), and the pledge.cancelled / pledge.refund_requested events they commit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PledgeModel } from "../src/model";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;
const alice = user("alice");
const bob = user("bob");
const root = user("root", "admin");

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
  h.withAccount(alice);
  h.withAccount(bob);
});
afterAll(async () => {
  await h.stop();
});

const cancel = (id: string, as = alice) => h.call("POST", `/pledges/${id}/cancel`, { as });
const refund = (id: string, as = root) => h.call("POST", `/pledges/${id}/refund`, { as });
const types = async (id: string) => (await h.eventsFor(id)).map((e) => e.type);

async function captured() {
  const p = await h.createPledge(alice, campaignId);
  await h.payment("payment.authorized", p);
  await h.payment("payment.captured", p);
  return p;
}

describe("cancel", () => {
  test("own pending pledge → 200 cancelled, history grows, one pledge.cancelled event", async () => {
    const p = await h.createPledge(alice, campaignId);
    h.clock.advance(5_000);
    const before = h.commits();
    const res = await cancel(p.id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as PledgeModel.Pledge;
    const at = h.clock.date().toISOString();
    expect(body).toEqual({
      ...p,
      status: "cancelled",
      updatedAt: at,
      history: [...p.history, { status: "cancelled", at }],
    });
    expect(await types(p.id)).toEqual(["pledge.created", "pledge.cancelled"]);
    const event = (await h.eventsFor(p.id)).at(-1)!;
    expect(event.data).toMatchObject({ pledgeId: p.id, status: "cancelled", donorId: alice.id, donorKey: alice.id });
    expect(h.commits()).toBe(before + 1);
  });

  test("own authorized pledge → 200 cancelled", async () => {
    const p = await h.createPledge(alice, campaignId);
    await h.payment("payment.authorized", p);
    const res = await cancel(p.id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as PledgeModel.Pledge).history.map((s) => s.status)).toEqual([
      "pending",
      "authorized",
      "cancelled",
    ]);
  });

  test("another donor's pledge → 404 (indistinguishable from a missing one) and nothing changes", async () => {
    const p = await h.createPledge(alice, campaignId);
    const problem = await expectProblem(await cancel(p.id, bob), 404);
    expect(problem.detail).toBe(`Pledge ${p.id} does not exist`);
    await expectProblem(await cancel(Bun.randomUUIDv7(), bob), 404);
    expect(await types(p.id)).toEqual(["pledge.created"]);
  });

  test("a guest's pledge cannot be cancelled by a signed-in stranger (404)", async () => {
    const source = h.bank.open("acct_guest_cancel", "s");
    const res = await h.call("POST", `/campaigns/${campaignId}/pledges`, {
      body: { amountMinor: 1_000, currency: "BDT", donor: { email: "g@example.test", name: "G" }, source },
      headers: { "idempotency-key": "guest-cancel" },
    });
    const p = (await res.json()) as PledgeModel.Pledge;
    await expectProblem(await cancel(p.id, bob), 404);
  });

  test("an admin who is not the donor → 403 (they can see it, but only its donor cancels)", async () => {
    const p = await h.createPledge(alice, campaignId);
    await expectProblem(await cancel(p.id, root), 403);
  });

  test.each([
    ["captured", ["payment.authorized", "payment.captured"]],
    ["failed", ["payment.failed"]],
    ["expired", ["payment.authorized", "payment.expired"]],
    ["refunded", ["payment.captured", "payment.refunded"]],
  ])("a %s pledge → 409 and stays as it was", async (status, events) => {
    const p = await h.createPledge(alice, campaignId);
    for (const type of events) await h.payment(type, p, { reason: "declined" });
    const before = await (await h.call("GET", `/pledges/${p.id}`, { as: alice })).json();
    const problem = await expectProblem(await cancel(p.id), 409);
    expect(problem.type).toContain("pledge-not-cancellable");
    expect(problem.detail).toContain(status);
    expect(await (await h.call("GET", `/pledges/${p.id}`, { as: alice })).json()).toEqual(before);
  });

  test("cancelling twice → 200 then 409, one event", async () => {
    const p = await h.createPledge(alice, campaignId);
    expect((await cancel(p.id)).status).toBe(200);
    await expectProblem(await cancel(p.id), 409);
    expect(await types(p.id)).toEqual(["pledge.created", "pledge.cancelled"]);
  });

  test("10 concurrent cancels → exactly one 200, the rest 409, one event", async () => {
    const p = await h.createPledge(alice, campaignId);
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => cancel(p.id)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    expect(await types(p.id)).toEqual(["pledge.created", "pledge.cancelled"]);
  });

  test("without a token → 401", async () => {
    const p = await h.createPledge(alice, campaignId);
    await expectProblem(await h.call("POST", `/pledges/${p.id}/cancel`), 401);
  });
});

describe("refund", () => {
  test("admin on a captured pledge → 202, refund_requested recorded with one event, status still captured", async () => {
    const p = await captured();
    const before = h.commits();
    const res = await refund(p.id);
    expect(res.status).toBe(202);
    const body = (await res.json()) as PledgeModel.Pledge;
    expect(body.status).toBe("captured");
    expect(await types(p.id)).toEqual([
      "pledge.created",
      "pledge.authorized",
      "pledge.captured",
      "pledge.refund_requested",
    ]);
    const event = (await h.eventsFor(p.id)).at(-1)!;
    expect(event.data).toMatchObject({ pledgeId: p.id, status: "captured", amountMinor: p.amountMinor });
    expect(h.commits()).toBe(before + 1);

    // Asked again while the refund is pending → 202, no second event.
    const again = await refund(p.id);
    expect(again.status).toBe(202);
    expect((await h.eventsFor(p.id)).filter((e) => e.type === "pledge.refund_requested")).toHaveLength(1);
    expect(h.commits()).toBe(before + 1);

    // Then payment.refunded → refunded; a further request → 409.
    await h.payment("payment.refunded", p);
    const done = (await (await h.call("GET", `/pledges/${p.id}`, { as: alice })).json()) as PledgeModel.Pledge;
    expect(done.status).toBe("refunded");
    await expectProblem(await refund(p.id), 409);
  });

  test("the donor → 403; no token → 401", async () => {
    const p = await captured();
    await expectProblem(await refund(p.id, alice), 403);
    await expectProblem(await h.call("POST", `/pledges/${p.id}/refund`), 401);
    expect(await types(p.id)).not.toContain("pledge.refund_requested");
  });

  test.each([
    ["pending", [] as string[]],
    ["authorized", ["payment.authorized"]],
    ["failed", ["payment.failed"]],
  ])("a %s pledge → 409", async (status, events) => {
    const p = await h.createPledge(alice, campaignId);
    for (const type of events) await h.payment(type, p);
    const problem = await expectProblem(await refund(p.id), 409);
    expect(problem.detail).toContain(status);
  });

  test("an unknown pledge → 404", async () => {
    await expectProblem(await refund(Bun.randomUUIDv7()), 404);
  });

  test("concurrent refund requests → all 202, one event", async () => {
    const p = await captured();
    const statuses = (await Promise.all(Array.from({ length: 8 }, () => refund(p.id)))).map((r) => r.status);
    expect(statuses).toEqual(Array(8).fill(202));
    expect((await h.eventsFor(p.id)).filter((e) => e.type === "pledge.refund_requested")).toHaveLength(1);
  });
});
