// The notification routes: a user reads only their own notifications (others' are 404), admins
// also the operator rows with read marks of their own, newest first with cursor paging, read and
// read-all, and a token or a service credential is required.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TEST_ADMIN, type TestPrincipal } from "@careforall/testkit";
import {
  expectProblem,
  type NotificationTestApp,
  pledgeChange,
  pledgeCreated,
  startNotificationTestApp,
  user,
} from "./support";

let t: NotificationTestApp;
beforeAll(async () => {
  t = await startNotificationTestApp();
});
afterAll(() => t.stop());

interface Item {
  id: string;
  kind: string;
  title: string;
  body: string;
  at: string;
  readAt: string | null;
  pledgeId?: string;
  campaignId?: string;
}
interface PageBody {
  items: Item[];
  nextCursor: string | null;
}

/** `n` captured pledges of `donor`, one batch each (so the newest is the last applied). */
async function capturedPledges(donor: TestPrincipal, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const created = pledgeCreated({ donorId: donor.id, amountMinor: 100 * (i + 1) });
    await t.apply([pledgeChange(created.data, "captured")]);
    ids.push(created.data.pledgeId);
  }
  return ids;
}

async function list(as: TestPrincipal, query = ""): Promise<PageBody> {
  const res = await t.call("GET", `/notifications${query}`, { as });
  expect(res.status).toBe(200);
  return (await res.json()) as PageBody;
}

const signatureAlarm = () => ({
  id: Bun.randomUUIDv7(),
  type: "payment.webhook_signature_failures",
  occurredAt: new Date().toISOString(),
  aggregateId: "webhooks",
  data: { failures: 6, windowSeconds: 60, firstAt: "2030-01-01T00:00:00.000Z", lastAt: "2030-01-01T00:00:40.000Z" },
});

describe("whose notifications", () => {
  test("a user sees only their own; another user's list stays empty and their read is 404", async () => {
    const ann = user("ann");
    const bob = user("bob");
    const [pledgeId] = await capturedPledges(ann, 1);
    const mine = await list(ann);
    expect(mine.items).toHaveLength(1);
    expect(mine.items[0]).toEqual({
      id: mine.items[0]!.id,
      kind: "pledge.captured",
      title: "Thank you for your donation",
      body: "Your donation of BDT 1.00 to a campaign was received.",
      at: mine.items[0]!.at,
      readAt: null,
      pledgeId: pledgeId!,
      campaignId: mine.items[0]!.campaignId!,
    });
    expect((await list(bob)).items).toEqual([]);
    await expectProblem(await t.call("POST", `/notifications/${mine.items[0]!.id}/read`, { as: bob }), 404);
    await expectProblem(await t.call("POST", `/notifications/${Bun.randomUUIDv7()}/read`, { as: ann }), 404);
    // Bob's read-all does not touch Ann's.
    expect((await t.call("POST", "/notifications/read-all", { as: bob })).status).toBe(204);
    expect((await list(ann)).items[0]!.readAt).toBeNull();
  });

  test("operator notifications are for admins only, each admin with their own read marks", async () => {
    const donor = user("dora");
    const otherAdmin: TestPrincipal = { ...user("root", "admin") };
    await t.apply([signatureAlarm()]);
    expect((await list(donor)).items).toEqual([]);
    const seen = (await list(TEST_ADMIN)).items.filter((n) => n.kind === "webhook.signature_failures");
    expect(seen.length).toBeGreaterThanOrEqual(1);
    const alarm = seen[0]!;
    await expectProblem(await t.call("POST", `/notifications/${alarm.id}/read`, { as: donor }), 404);

    expect((await t.call("POST", `/notifications/${alarm.id}/read`, { as: TEST_ADMIN })).status).toBe(204);
    const readByFirst = (await list(TEST_ADMIN)).items.find((n) => n.id === alarm.id)!;
    expect(readByFirst.readAt).toBe(t.clock.date().toISOString());
    expect((await list(otherAdmin)).items.find((n) => n.id === alarm.id)!.readAt).toBeNull();
    // Reading twice is fine and keeps the first mark.
    t.clock.advance(1000);
    expect((await t.call("POST", `/notifications/${alarm.id}/read`, { as: TEST_ADMIN })).status).toBe(204);
    expect((await list(TEST_ADMIN)).items.find((n) => n.id === alarm.id)!.readAt).toBe(readByFirst.readAt);
  });
});

describe("reading", () => {
  test("pages newest first with the cursor, every notification exactly once", async () => {
    const donor = user("paula");
    const pledges = await capturedPledges(donor, 5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: PageBody = await list(donor, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.items.map((n) => n.pledgeId!));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...pledges].reverse());
  });

  test("a cursor this list did not issue is a 400 naming it; a limit out of range too", async () => {
    const donor = user("quinn");
    const bad = await expectProblem(await t.call("GET", "/notifications?cursor=garbage", { as: donor }), 400);
    expect(bad.errors?.map((e) => e.path)).toContain("cursor");
    await expectProblem(await t.call("GET", "/notifications?limit=0", { as: donor }), 400);
    await expectProblem(await t.call("GET", "/notifications?limit=101", { as: donor }), 400);
  });

  test("read marks one, unread=true lists the rest, read-all marks everything", async () => {
    const donor = user("rita");
    await capturedPledges(donor, 3);
    const all = (await list(donor)).items;
    expect((await t.call("POST", `/notifications/${all[1]!.id}/read`, { as: donor })).status).toBe(204);
    const unread = (await list(donor, "?unread=true")).items.map((n) => n.id);
    expect(unread).toEqual([all[0]!.id, all[2]!.id]);
    expect((await list(donor, "?unread=false")).items).toHaveLength(3);

    expect((await t.call("POST", "/notifications/read-all", { as: donor })).status).toBe(204);
    expect((await list(donor, "?unread=true")).items).toEqual([]);
    expect((await list(donor)).items.every((n) => n.readAt !== null)).toBe(true);
  });

  test("an admin's read-all marks their own rows and every operator row for them alone", async () => {
    const admin = user("ada", "admin");
    const other = user("ben", "admin");
    await t.apply([signatureAlarm(), signatureAlarm()]);
    expect((await list(admin, "?unread=true")).items.length).toBeGreaterThanOrEqual(2);
    expect((await t.call("POST", "/notifications/read-all", { as: admin })).status).toBe(204);
    expect((await list(admin, "?unread=true")).items).toEqual([]);
    expect((await list(other, "?unread=true")).items.length).toBeGreaterThanOrEqual(2);
  });
});

describe("access", () => {
  test("no token is 401; a token signed by anyone but auth is 401", async () => {
    await expectProblem(await t.call("GET", "/notifications"), 401);
    await expectProblem(await t.call("POST", "/notifications/read-all"), 401);
    await expectProblem(await t.call("GET", "/notifications", { token: "not-a-jwt" }), 401);
  });

  test("without the gateway's service credential the routes refuse (401), whatever the token", async () => {
    const res = await t.call("GET", "/notifications", { as: user("eve"), caller: null });
    await expectProblem(res, 401);
    await expectProblem(await t.call("GET", "/notifications", { as: user("eve"), caller: "pledge" }), 403);
  });
});
