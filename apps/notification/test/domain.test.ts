// The pure rules: which events produce which pushes and notifications, what each notification
// says, when a goal is reached, and when audit drift is worth telling (two audits in a row).
import { describe, expect, test } from "bun:test";
import type { CampaignSnapshot, PledgeChange, PledgeStatus } from "@careforall/events";
import { campaignSnapshot } from "@careforall/testkit";
import {
  type AuditDriftState,
  describeFailure,
  donorText,
  driftText,
  formatAmount,
  goalReachedText,
  nextAuditState,
  type PledgeEvent,
  planCampaigns,
  planPledges,
  STATUS_RANK,
  signatureFailuresText,
  stuckText,
} from "../src/domain";

describe("amounts", () => {
  test("minor units are shown in their currency, grouped, never through a float", () => {
    expect(formatAmount(250_000, "BDT")).toBe("BDT 2,500.00");
    expect(formatAmount(1_250, "USD")).toBe("$12.50");
    expect(formatAmount(5, "EUR")).toBe("€0.05");
    expect(formatAmount(100_000_000, "BDT")).toBe("BDT 1,000,000.00");
    // 0.1 + 0.2 style errors cannot happen: 2^53 - 1 minor units are exact.
    expect(formatAmount(9_007_199_254_740_991, "USD")).toBe("$90,071,992,547,409.91");
  });
});

describe("donor texts", () => {
  const base = { amountMinor: 25_000, currency: "BDT", campaignTitle: "Clean water", failureReason: null };

  test("captured thanks the donor and names the campaign and the amount", () => {
    expect(donorText({ ...base, status: "captured" })).toEqual({
      title: "Thank you for your donation",
      body: "Your donation of BDT 250.00 to “Clean water” was received.",
    });
  });

  test("failed gives the reason in words", () => {
    expect(donorText({ ...base, status: "failed", failureReason: "insufficient_funds" }).body).toBe(
      "Your donation of BDT 250.00 to “Clean water” failed: the account did not have enough funds. You were not charged.",
    );
    expect(describeFailure("declined")).toBe("the bank declined the payment");
    // An unknown code or none: a general sentence, never the raw code.
    expect(describeFailure("weird_code")).toBe("the payment could not be completed");
    expect(describeFailure(null)).toBe("the payment could not be completed");
  });

  test("refunded, and a campaign this service has not heard of yet", () => {
    expect(donorText({ ...base, status: "refunded", campaignTitle: null })).toEqual({
      title: "Your donation was refunded",
      body: "Your donation of BDT 250.00 to a campaign was refunded.",
    });
  });
});

describe("operator texts", () => {
  test("each operator kind says what happened, with its figures", () => {
    expect(
      stuckText({
        pledgeId: "p1",
        status: "authorized",
        amountMinor: 1000,
        currency: "USD",
        campaignTitle: "Wells",
        since: new Date("2026-01-01T00:00:00.000Z"),
        graceSeconds: 120,
      }).body,
    ).toBe(
      "Pledge p1 of $10.00 to “Wells” has been authorized since 2026-01-01T00:00:00.000Z, longer than the 120 s grace period.",
    );
    expect(driftText({ totalDriftMinor: 500, campaigns: 1, checkedAt: "2026-01-01T00:00:00.000Z" }).body).toContain(
      "500 minor units of drift across 1 campaign ",
    );
    expect(signatureFailuresText({ failures: 7, windowSeconds: 60, firstAt: "a", lastAt: "b" }).body).toBe(
      "7 bank webhook calls with a bad or missing signature within 60 s (first a, last b).",
    );
    expect(goalReachedText({ title: "Wells", raisedMinor: 510_000, goalMinor: 500_000, currency: "BDT" })).toEqual({
      title: "Goal reached",
      body: "“Wells” reached its goal: BDT 5,100.00 raised of BDT 5,000.00.",
    });
  });
});

describe("audit drift needs two audits in a row", () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const run = (drifts: number[]) => {
    let state: AuditDriftState | null = null;
    const alerts: boolean[] = [];
    drifts.forEach((d, i) => {
      const decision = nextAuditState(state, { checkedAt: at(i + 1), totalDriftMinor: d });
      if (decision.kind !== "next") throw new Error("unexpected stale");
      state = decision.state;
      alerts.push(decision.alert);
    });
    return { alerts, state: state as AuditDriftState | null };
  };

  test("one drifting audit is not enough; the second in a row alerts, once", () => {
    expect(run([0, 5]).alerts).toEqual([false, false]);
    expect(run([5, 5]).alerts).toEqual([false, true]);
    expect(run([5, 5, 7, 9]).alerts).toEqual([false, true, false, false]);
  });

  test("an audit at zero drift resets it; drift interrupted by zero needs two again", () => {
    expect(run([5, 5, 0, 5, 5]).alerts).toEqual([false, true, false, false, true]);
    expect(run([5, 0, 5, 0, 5]).alerts).toEqual([false, false, false, false, false]);
  });

  test("the state keeps the last audit's drift", () => {
    expect(run([5, 9]).state).toEqual({ lastDriftMinor: 9, lastCheckedAt: at(2), alerted: true });
    expect(run([5, 9, 0]).state).toEqual({ lastDriftMinor: 0, lastCheckedAt: at(3), alerted: false });
  });

  test("an audit not newer than the last one changes nothing", () => {
    const state = { lastDriftMinor: 5, lastCheckedAt: at(10), alerted: false };
    expect(nextAuditState(state, { checkedAt: at(9), totalDriftMinor: 5 })).toEqual({ kind: "stale" });
    expect(nextAuditState(state, { checkedAt: at(10), totalDriftMinor: 5 })).toEqual({ kind: "stale" });
  });
});

describe("campaign plan: snapshots forward only, totals pushed never older", () => {
  const snap = (over: Partial<CampaignSnapshot>) => campaignSnapshot({ id: "c1", ...over });
  const stored = (version: number, raisedMinor = 0) =>
    new Map([["c1", { id: "c1", version, raisedMinor, donorCount: 0, pledgeCount: 0 }]]);

  test("a new totals snapshot is stored and pushed as campaign.totals", () => {
    const plan = planCampaigns(
      stored(1),
      [
        {
          type: "campaign.totals_changed",
          snapshot: snap({ version: 2, raisedMinor: 500, donorCount: 1, pledgeCount: 1 }),
        },
      ],
      [],
    );
    expect(plan.upserts.map((s) => s.version)).toEqual([2]);
    expect(plan.pushes).toEqual([
      {
        topic: "campaign.c1",
        frame: { type: "campaign.totals", campaignId: "c1", raisedMinor: 500, donorCount: 1, pledgeCount: 1 },
      },
    ]);
  });

  test("an older snapshot than the stored one is neither stored nor pushed", () => {
    const plan = planCampaigns(
      stored(5),
      [{ type: "campaign.totals_changed", snapshot: snap({ version: 4, raisedMinor: 100 }) }],
      [],
    );
    expect(plan).toEqual({ upserts: [], pushes: [], goalsReached: [] });
  });

  test("several snapshots of one campaign in a batch: one push, the newest", () => {
    const plan = planCampaigns(
      stored(1),
      [
        { type: "campaign.totals_changed", snapshot: snap({ version: 3, raisedMinor: 300 }) },
        { type: "campaign.totals_changed", snapshot: snap({ version: 2, raisedMinor: 200 }) },
      ],
      [],
    );
    expect(plan.pushes.map((p) => (p.frame as { raisedMinor: number }).raisedMinor)).toEqual([300]);
  });

  test("campaign.created or a title change pushes no totals; an update that carries moved totals does", () => {
    expect(planCampaigns(new Map(), [{ type: "campaign.created", snapshot: snap({ version: 1 }) }], []).pushes).toEqual(
      [],
    );
    expect(
      planCampaigns(stored(1), [{ type: "campaign.updated", snapshot: snap({ version: 2, title: "New" }) }], []).pushes,
    ).toEqual([]);
    expect(
      planCampaigns(stored(1), [{ type: "campaign.updated", snapshot: snap({ version: 3, raisedMinor: 900 }) }], [])
        .pushes,
    ).toHaveLength(1);
  });

  test("a redelivered totals snapshot is pushed again only while it is still the newest stored", () => {
    const latest = snap({ version: 4, raisedMinor: 700 });
    const again = planCampaigns(stored(4, 700), [], [latest]);
    expect(again.upserts).toEqual([]);
    expect(again.pushes).toEqual([
      {
        topic: "campaign.c1",
        frame: { type: "campaign.totals", campaignId: "c1", raisedMinor: 700, donorCount: 0, pledgeCount: 0 },
      },
    ]);
    expect(planCampaigns(stored(5, 900), [], [latest]).pushes).toEqual([]);
  });

  test("the goal is reached by the first totals snapshot at or past it", () => {
    const below = snap({ version: 2, raisedMinor: 499_999, goalMinor: 500_000 });
    const at = snap({ version: 3, raisedMinor: 500_000, goalMinor: 500_000 });
    expect(planCampaigns(stored(1), [{ type: "campaign.totals_changed", snapshot: below }], []).goalsReached).toEqual(
      [],
    );
    expect(
      planCampaigns(
        stored(1),
        [
          { type: "campaign.totals_changed", snapshot: below },
          { type: "campaign.totals_changed", snapshot: at },
        ],
        [],
      ).goalsReached,
    ).toEqual([at]);
    // A campaign.updated lowering the goal is not a totals snapshot.
    expect(planCampaigns(stored(1), [{ type: "campaign.updated", snapshot: at }], []).goalsReached).toEqual([]);
  });
});

describe("pledge plan: forward only, guests on their pledge topic, donors also on theirs", () => {
  const donor = "0193aaaa-0000-7000-8000-000000000001";
  const change = (status: Exclude<PledgeStatus, "pending">, over: Partial<PledgeChange> = {}): PledgeEvent =>
    ({
      type: `pledge.${status}`,
      data: {
        pledgeId: "p1",
        campaignId: "c1",
        donorId: donor,
        donorKey: donor,
        donorName: null,
        anonymous: false,
        message: null,
        status,
        amountMinor: 1000,
        currency: "BDT",
        failureReason: status === "failed" ? "declined" : null,
        at: "2026-01-01T00:00:05.000Z",
        ...over,
      },
    }) as PledgeEvent;
  const created: PledgeEvent = {
    type: "pledge.created",
    data: {
      pledgeId: "p1",
      campaignId: "c1",
      donorId: donor,
      amountMinor: 1000,
      currency: "BDT",
      source: { bankAccountId: "a", grant: "g" },
      createdAt: "2026-01-01T00:00:00.000Z",
    },
  };
  const statuses = (plan: ReturnType<typeof planPledges>, topic: string) =>
    plan.pushes.filter((p) => p.topic === topic).map((p) => (p.frame as { status: string }).status);

  test("every status change is pushed to the donor and to the pledge's topic; pending is not a change", () => {
    const plan = planPledges(new Map(), [created, change("authorized"), change("captured")]);
    expect(statuses(plan, `user.${donor}`)).toEqual(["authorized", "captured"]);
    expect(statuses(plan, "pledge.p1")).toEqual(["authorized", "captured"]);
    expect(plan.rows).toEqual([
      {
        id: "p1",
        campaignId: "c1",
        donorId: donor,
        status: "captured",
        amountMinor: 1000,
        currency: "BDT",
        createdAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-01T00:00:05.000Z",
      },
    ]);
  });

  test("events out of order are pushed in the machine's order; a stale one not at all", () => {
    const plan = planPledges(new Map(), [change("captured"), change("authorized")]);
    expect(statuses(plan, "pledge.p1")).toEqual(["authorized", "captured"]);
    const late = planPledges(new Map([["p1", "captured" as const]]), [change("authorized")]);
    expect(late.pushes).toEqual([]);
    expect(late.rows[0]!.status).toBe("authorized"); // the upsert keeps the stored, further state
  });

  test("a guest's pledge goes to its pledge topic only, and stores no notification", () => {
    const plan = planPledges(new Map(), [change("captured", { donorId: null, donorKey: "guest:x" })]);
    expect(plan.pushes.map((p) => p.topic)).toEqual(["pledge.p1"]);
    expect(plan.donorNotices).toEqual([]);
  });

  test("captured, failed and refunded are stored for the donor; authorized, cancelled and expired are only pushed", () => {
    for (const status of ["authorized", "cancelled", "expired"] as const)
      expect(planPledges(new Map(), [change(status)]).donorNotices).toEqual([]);
    for (const status of ["captured", "failed", "refunded"] as const)
      expect(planPledges(new Map(), [change(status)]).donorNotices.map((n) => n.status)).toEqual([status]);
  });

  test("the failure reason travels in the frame", () => {
    const [push] = planPledges(new Map(), [change("failed")]).pushes;
    expect(push!.frame).toEqual({
      type: "pledge.status",
      pledgeId: "p1",
      campaignId: "c1",
      status: "failed",
      failureReason: "declined",
    });
  });

  test("every stored state × every change: pushed exactly when it takes the pledge further", () => {
    const all: PledgeStatus[] = ["pending", "authorized", "captured", "failed", "cancelled", "expired", "refunded"];
    for (const stored of [undefined, ...all])
      for (const status of all.filter((s) => s !== "pending") as Exclude<PledgeStatus, "pending">[]) {
        const plan = planPledges(stored ? new Map([["p1", stored]]) : new Map(), [change(status)]);
        const expected = stored === undefined || STATUS_RANK[status] > STATUS_RANK[stored];
        expect({ stored, status, pushed: plan.pushes.length > 0 }).toEqual({ stored, status, pushed: expected });
        // Stored notifications do not depend on order: the unique key keeps them once.
        expect({ stored, status, notice: plan.donorNotices.length }).toEqual({
          stored,
          status,
          notice: ["captured", "failed", "refunded"].includes(status) ? 1 : 0,
        });
      }
  });

  test("the rank table is the machine's order", () => {
    expect(STATUS_RANK.pending < STATUS_RANK.authorized).toBe(true);
    for (const s of ["captured", "failed", "cancelled", "expired"] as const) expect(STATUS_RANK[s]).toBe(2);
    expect(STATUS_RANK.refunded).toBeGreaterThan(STATUS_RANK.captured);
  });
});
