// The campaign lifecycle over HTTP against real PostgreSQL: create, read, change, close, who may
// do what, and the outbox event each write commits with it (invariants 5 and 6).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CampaignSnapshot } from "@careforall/events";
import { serviceHeaders } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { Value } from "@sinclair/typebox/value";
import { asc, eq, sql } from "drizzle-orm";
import { campaigns, outbox } from "../src/db/schema";
import type { CampaignModel } from "../src/model";
import { type CampaignTestApp, expectProblem, startCampaignTestApp, user, validBody } from "./support";

let h: CampaignTestApp;
const alice = user("alice");
const bob = user("bob");
const root = user("root", "admin");

beforeAll(async () => {
  h = await startCampaignTestApp();
});
afterAll(async () => {
  await h.stop();
});

async function createCampaign(as = alice, overrides: Record<string, unknown> = {}): Promise<CampaignModel.Campaign> {
  const res = await h.call("POST", "/campaigns", { as, body: validBody(overrides) });
  expect(res.status).toBe(201);
  return (await res.json()) as CampaignModel.Campaign;
}

async function eventsFor(id: string) {
  const rows = await h.db.select().from(outbox).where(eq(outbox.aggregateId, id)).orderBy(asc(outbox.id));
  return rows.map((r) => r.envelope as { id: string; type: string; aggregateId: string; data: CampaignSnapshot });
}

describe("create", () => {
  test("answers 201 with the caller as owner, zero totals, active, version 1", async () => {
    const endsAt = new Date(h.clock.now() + 86_400_000).toISOString();
    const before = h.commits();
    const res = await h.call("POST", "/campaigns", { as: alice, body: validBody({ endsAt }) });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const c = (await res.json()) as CampaignModel.Campaign;
    expect(c).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      ownerId: alice.id,
      title: "Clean water for Sylhet",
      description: "Wells and filters for 40 villages.",
      goalMinor: 500_000,
      currency: "BDT",
      status: "active",
      raisedMinor: 0,
      donorCount: 0,
      pledgeCount: 0,
      endsAt,
      createdAt: h.clock.date().toISOString(),
      updatedAt: h.clock.date().toISOString(),
      version: 1,
    });
    expect(h.commits()).toBe(before + 1);
  });

  test("commits exactly one campaign.created event carrying the full snapshot", async () => {
    const c = await createCampaign(alice, { currency: "USD" });
    const events = await eventsFor(c.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "campaign.created", aggregateId: c.id, data: c });
    expect(Value.Check(CampaignSnapshot, events[0]!.data)).toBe(true);
  });

  test("without a token → 401 and nothing is written", async () => {
    const [before] = await h.db.select({ n: sql<number>`count(*)::int` }).from(campaigns);
    const res = await h.call("POST", "/campaigns", { body: validBody() });
    const problem = await expectProblem(res, 401);
    expect(problem.title).toBe("Unauthorized");
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    const [after] = await h.db.select({ n: sql<number>`count(*)::int` }).from(campaigns);
    expect(after!.n).toBe(before!.n);
  });

  test("with an expired or foreign token → 401", async () => {
    await expectProblem(
      await h.call("POST", "/campaigns", { token: await h.tokenFor(alice, "-1m"), body: validBody() }),
      401,
    );
    await expectProblem(await h.call("POST", "/campaigns", { token: "not-a-jwt", body: validBody() }), 401);
  });

  test("a token whose subject is not a user id → 401, not a database error", async () => {
    const res = await h.call("POST", "/campaigns", { as: { ...alice, id: "user-1" }, body: validBody() });
    await expectProblem(res, 401);
  });

  test("if the outbox write fails, the campaign is not created either", async () => {
    const [before] = await h.db.select({ n: sql<number>`count(*)::int` }).from(campaigns);
    await h.client.unsafe("alter table campaign.outbox rename to outbox_unavailable");
    try {
      await expectProblem(await h.call("POST", "/campaigns", { as: alice, body: validBody() }), 500);
    } finally {
      await h.client.unsafe("alter table campaign.outbox_unavailable rename to outbox");
    }
    const [after] = await h.db.select({ n: sql<number>`count(*)::int` }).from(campaigns);
    expect(after!.n).toBe(before!.n);
  });
});

describe("get", () => {
  test("anyone reads a campaign", async () => {
    const c = await createCampaign();
    const res = await h.call("GET", `/campaigns/${c.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(c);
  });

  test("an unknown id → 404 problem", async () => {
    const problem = await expectProblem(await h.call("GET", `/campaigns/${Bun.randomUUIDv7()}`), 404);
    expect(problem.type).toContain("not-found");
  });

  test("an invalid id → 400 naming the id", async () => {
    const problem = await expectProblem(await h.call("GET", "/campaigns/not-a-uuid"), 400);
    expect(problem.errors?.[0]?.path).toBe("id");
  });

  test("an unknown route → 404 problem", async () => {
    await expectProblem(await h.call("GET", "/nowhere"), 404);
  });

  test("is typed end to end through an Eden client", async () => {
    const c = await createCampaign();
    const api = treaty(h.app, { headers: await serviceHeaders("campaign") });
    const { data, status } = await api.campaigns({ id: c.id }).get();
    expect(status).toBe(200);
    expect(data?.title).toBe(c.title);
    expect(data?.version).toBe(1);
  });
});

describe("update (PATCH)", () => {
  test("the owner changes fields; version goes up and updatedAt moves", async () => {
    const c = await createCampaign();
    h.clock.advance(60_000);
    const endsAt = new Date(h.clock.now() + 3_600_000).toISOString();
    const res = await h.call("PATCH", `/campaigns/${c.id}`, {
      as: alice,
      body: { title: "Clean water, phase two", goalMinor: 750_000, endsAt, description: "" },
    });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as CampaignModel.Campaign;
    expect(updated).toEqual({
      ...c,
      title: "Clean water, phase two",
      goalMinor: 750_000,
      description: "",
      endsAt,
      updatedAt: h.clock.date().toISOString(),
      version: 2,
    });
    expect(await (await h.call("GET", `/campaigns/${c.id}`)).json()).toEqual(updated);
  });

  test("fields not sent stay as they were; endsAt null removes the end", async () => {
    const c = await createCampaign(alice, { endsAt: new Date(h.clock.now() + 3_600_000).toISOString() });
    const res = await h.call("PATCH", `/campaigns/${c.id}`, { as: alice, body: { endsAt: null } });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as CampaignModel.Campaign;
    expect(updated).toMatchObject({ title: c.title, description: c.description, goalMinor: c.goalMinor, endsAt: null });
  });

  test("commits one campaign.updated event with the new version and snapshot", async () => {
    const c = await createCampaign();
    const res = await h.call("PATCH", `/campaigns/${c.id}`, { as: alice, body: { title: "Renamed campaign" } });
    const updated = await res.json();
    const events = await eventsFor(c.id);
    expect(events.map((e) => [e.type, e.data.version])).toEqual([
      ["campaign.created", 1],
      ["campaign.updated", 2],
    ]);
    expect(events[1]!.data).toEqual(updated);
  });

  test("another user → 403, nothing changes and no event", async () => {
    const c = await createCampaign();
    const before = h.commits();
    await expectProblem(await h.call("PATCH", `/campaigns/${c.id}`, { as: bob, body: { title: "Mine now" } }), 403);
    expect(await (await h.call("GET", `/campaigns/${c.id}`)).json()).toEqual(c);
    expect(await eventsFor(c.id)).toHaveLength(1);
    expect(h.commits()).toBe(before);
  });

  test("an admin changes anyone's campaign", async () => {
    const c = await createCampaign();
    const res = await h.call("PATCH", `/campaigns/${c.id}`, { as: root, body: { goalMinor: 1_000 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ goalMinor: 1_000, ownerId: alice.id, version: 2 });
  });

  test("without a token → 401; unknown campaign → 404", async () => {
    const c = await createCampaign();
    await expectProblem(await h.call("PATCH", `/campaigns/${c.id}`, { body: { title: "Anonymous" } }), 401);
    await expectProblem(
      await h.call("PATCH", `/campaigns/${Bun.randomUUIDv7()}`, { as: root, body: { title: "Ghost" } }),
      404,
    );
  });

  test("a closed campaign → 409 and stays as it was", async () => {
    const c = await createCampaign();
    const closed = await (await h.call("POST", `/campaigns/${c.id}/close`, { as: alice })).json();
    const problem = await expectProblem(
      await h.call("PATCH", `/campaigns/${c.id}`, { as: alice, body: { title: "Too late" } }),
      409,
    );
    expect(problem.type).toContain("campaign-closed");
    await expectProblem(await h.call("PATCH", `/campaigns/${c.id}`, { as: root, body: { title: "Too late" } }), 409);
    expect(await (await h.call("GET", `/campaigns/${c.id}`)).json()).toEqual(closed);
  });

  test("10 concurrent PATCHes all apply: version 11 and 10 update events", async () => {
    const c = await createCampaign();
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.call("PATCH", `/campaigns/${c.id}`, { as: i % 2 ? alice : root, body: { title: `Concurrent title ${i}` } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    const versions = (await Promise.all(responses.map((r) => r.json()))).map((b) => b.version).sort((a, b) => a - b);
    expect(versions).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const final = (await (await h.call("GET", `/campaigns/${c.id}`)).json()) as CampaignModel.Campaign;
    expect(final.version).toBe(11);
    const updates = (await eventsFor(c.id)).filter((e) => e.type === "campaign.updated");
    expect(updates).toHaveLength(10);
    expect(updates.map((e) => e.data.version).sort((a, b) => a - b)).toEqual(versions);
    // The newest event is the state the campaign ended in.
    expect(updates.find((e) => e.data.version === 11)?.data).toEqual(final);
  });
});

describe("close", () => {
  test("the owner closes: 200, status closed, version 2, one campaign.closed event", async () => {
    const c = await createCampaign();
    const before = h.commits();
    const res = await h.call("POST", `/campaigns/${c.id}/close`, { as: alice });
    expect(res.status).toBe(200);
    const closed = (await res.json()) as CampaignModel.Campaign;
    expect(closed).toMatchObject({ id: c.id, status: "closed", version: 2 });
    const events = await eventsFor(c.id);
    expect(events.map((e) => [e.type, e.data.version, e.data.status])).toEqual([
      ["campaign.created", 1, "active"],
      ["campaign.closed", 2, "closed"],
    ]);
    expect(h.commits()).toBe(before + 1);
  });

  test("closing twice → 200 both times, unchanged the second time and no second event", async () => {
    const c = await createCampaign();
    const first = await h.call("POST", `/campaigns/${c.id}/close`, { as: alice });
    h.clock.advance(1_000);
    const second = await h.call("POST", `/campaigns/${c.id}/close`, { as: alice });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const firstBody = await first.json();
    expect(await second.json()).toEqual(firstBody);
    expect(await eventsFor(c.id)).toHaveLength(2);
  });

  test("another user → 403, even on a closed campaign", async () => {
    const c = await createCampaign();
    await expectProblem(await h.call("POST", `/campaigns/${c.id}/close`, { as: bob }), 403);
    expect(((await (await h.call("GET", `/campaigns/${c.id}`)).json()) as CampaignModel.Campaign).status).toBe(
      "active",
    );
    await h.call("POST", `/campaigns/${c.id}/close`, { as: alice });
    await expectProblem(await h.call("POST", `/campaigns/${c.id}/close`, { as: bob }), 403);
  });

  test("an admin closes anyone's campaign", async () => {
    const c = await createCampaign(bob);
    const res = await h.call("POST", `/campaigns/${c.id}/close`, { as: root });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "closed", ownerId: bob.id });
  });

  test("unknown campaign → 404; invalid id → 400; no token → 401", async () => {
    await expectProblem(await h.call("POST", `/campaigns/${Bun.randomUUIDv7()}/close`, { as: root }), 404);
    await expectProblem(await h.call("POST", "/campaigns/123/close", { as: root }), 400);
    const c = await createCampaign();
    await expectProblem(await h.call("POST", `/campaigns/${c.id}/close`), 401);
  });
});

describe("operations", () => {
  test("/health and /ready answer, /ready checks postgres", async () => {
    expect((await h.call("GET", "/health")).status).toBe(200);
    const ready = await h.call("GET", "/ready");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { postgres: "up" } });
  });
});
