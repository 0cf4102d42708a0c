// The stuck-pledge sweep on an injected clock: a pledge still pending or authorized past the grace
// period is reported to admins once (stored, pushed on `admins`), a finished one never, one within
// the grace period not yet; racing sweeps store it once; the polling loop runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "@careforall/log";
import { eq, sql } from "drizzle-orm";
import { notifications } from "../src/db/schema";
import { startStuckSweeper } from "../src/workers/stuck-sweeper";
import {
  campaignEvent,
  campaignSnapshot,
  type NotificationTestApp,
  pledgeChange,
  pledgeCreated,
  STUCK_AFTER_SECONDS,
  startNotificationTestApp,
  waitFor,
} from "./support";

let t: NotificationTestApp;
beforeAll(async () => {
  t = await startNotificationTestApp();
});
afterAll(() => t.stop());

const stuckRows = (pledgeId: string) =>
  t.db
    .select()
    .from(notifications)
    .where(sql`${notifications.kind} = 'pledge.stuck' and ${notifications.subject} = ${pledgeId}`);

describe("stuck pledges", () => {
  test("reported once past the grace period, for admins only; finished and recent pledges are not", async () => {
    const c = campaignSnapshot({ title: "Wells" });
    const createdAt = new Date(t.clock.now());
    const stuck = pledgeCreated({ campaignId: c.id, createdAt: createdAt.toISOString(), amountMinor: 5000 });
    const authorized = pledgeCreated({ campaignId: c.id, createdAt: createdAt.toISOString() });
    const done = pledgeCreated({ campaignId: c.id, createdAt: createdAt.toISOString() });
    await t.apply([
      campaignEvent("campaign.created", c),
      stuck,
      authorized,
      pledgeChange(authorized.data, "authorized"),
      done,
      pledgeChange(done.data, "authorized"),
      pledgeChange(done.data, "captured"),
    ]);
    const onAdmins = t.listen("admins");

    t.clock.set(createdAt.getTime() + (STUCK_AFTER_SECONDS - 1) * 1000);
    await t.sweep();
    expect(await stuckRows(stuck.data.pledgeId)).toHaveLength(0);

    t.clock.set(createdAt.getTime() + STUCK_AFTER_SECONDS * 1000);
    await t.sweep();
    await Bun.sleep(0);
    const [row] = await stuckRows(stuck.data.pledgeId);
    expect(row!.recipient).toBe("admins");
    expect(row!.body).toBe(
      `Pledge ${stuck.data.pledgeId} of BDT 50.00 to “Wells” has been pending since ${createdAt.toISOString()}, longer than the ${STUCK_AFTER_SECONDS} s grace period.`,
    );
    expect(await stuckRows(authorized.data.pledgeId)).toHaveLength(1);
    expect(await stuckRows(done.data.pledgeId)).toHaveLength(0);
    const mine = (f: Record<string, unknown>) =>
      f.kind === "pledge.stuck" && (f.pledgeId === stuck.data.pledgeId || f.pledgeId === authorized.data.pledgeId);
    expect(onAdmins.frames.filter(mine)).toHaveLength(2);

    // Later sweeps report nothing again, even once the clock moves far on.
    t.clock.advance(3_600_000);
    await t.sweep();
    await Bun.sleep(0);
    expect(await stuckRows(stuck.data.pledgeId)).toHaveLength(1);
    expect(onAdmins.frames.filter(mine)).toHaveLength(2);
    onAdmins.stop();
  });

  test("two sweeps at once (two replicas) store each stuck pledge once", async () => {
    const createdAt = new Date(t.clock.now() - (STUCK_AFTER_SECONDS + 5) * 1000);
    const many = Array.from({ length: 20 }, () => pledgeCreated({ createdAt: createdAt.toISOString() }));
    await t.apply(many);
    const results = await Promise.all([t.sweep(), t.sweep(), t.sweep()]);
    const reported = results.flatMap((r) => r.stored.map((n) => n.subject));
    const ours = new Set(many.map((e) => e.data.pledgeId));
    expect(reported.filter((id) => ours.has(id)).sort()).toEqual([...ours].sort());
    for (const e of many) expect(await stuckRows(e.data.pledgeId)).toHaveLength(1);
  });

  test("the sweeper loop runs the sweep on its interval", async () => {
    const old = pledgeCreated({ createdAt: new Date(t.clock.now() - (STUCK_AFTER_SECONDS + 1) * 1000).toISOString() });
    await t.apply([old]);
    const loop = startStuckSweeper(t.sweep, silentLogger(), 20);
    try {
      await waitFor(async () => (await stuckRows(old.data.pledgeId)).length === 1, { what: "the stuck notification" });
    } finally {
      await loop.stop();
    }
    const [row] = await t.db.select().from(notifications).where(eq(notifications.subject, old.data.pledgeId));
    expect(row!.kind).toBe("pledge.stuck");
  });
});
