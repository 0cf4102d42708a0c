// Campaign end dates at the accept (issue 8), against real PostgreSQL: from the instant a
// campaign's endsAt is reached (the service's clock), a pledge is refused with 409 campaign-ended
// before any money moves — no pledge row, no pledge.created event, no bank call — on both accept
// paths (a claimed key before the bank, and the cached grant's one statement). The read model
// follows endsAt and campaign.closed from the campaign service's events.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CampaignSnapshot } from "@careforall/events";
import { newEvent } from "@careforall/outbox";
import { and, eq, sql } from "drizzle-orm";
import { campaigns, idempotencyKeys, outbox, pledges } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

// Two harnesses: `direct` asks the (fake) bank for every grant, so each accept claims its key and
// judges the campaign in JavaScript first; `cached` keeps grants, so a returning donor's accept is
// the single accept_pledge statement, which judges the campaign itself.
let direct: PledgeTestApp;
let cached: PledgeTestApp;

beforeAll(async () => {
  [direct, cached] = await Promise.all([startPledgeTestApp(), startPledgeTestApp({ cacheGrants: true })]);
});
afterAll(async () => {
  await Promise.all([direct?.stop(), cached?.stop()]);
});

const MINUTE = 60_000;

/** A campaign ending `inMs` from the harness's clock. */
async function endingCampaign(h: PledgeTestApp, inMs = MINUTE) {
  const endsAt = h.clock.now() + inMs;
  const campaign = await h.campaign({ endsAt: new Date(endsAt).toISOString() });
  return { campaign, endsAt };
}

async function written(h: PledgeTestApp, campaignId: string) {
  const [p] = await h.db
    .select({ n: sql<number>`count(*)::int` })
    .from(pledges)
    .where(eq(pledges.campaignId, campaignId));
  // pledge.created carries the campaign id in its payload; the aggregate is the pledge.
  const [e] = await h.db
    .select({ n: sql<number>`count(*)::int` })
    .from(outbox)
    .where(sql`${outbox.envelope}->'data'->>'campaignId' = ${campaignId}`);
  return { pledges: p!.n, events: e!.n };
}

describe.each([
  ["a claimed key (bank asked per request)", () => direct],
  ["a cached grant (one statement)", () => cached],
] as const)("through %s", (_, harness) => {
  test("a pledge one millisecond after endsAt → 409 campaign-ended; nothing written, the bank not asked", async () => {
    const h = harness();
    const donor = h.withAccount(user("late"));
    const { campaign, endsAt } = await endingCampaign(h);
    // The cached path needs a grant in hand: one pledge to another campaign warms it.
    await h.createPledge(donor, (await h.campaign()).id);
    const bankCalls = h.bank.calls.length;

    h.clock.set(endsAt + 1);
    const problem = await expectProblem(await h.pledgeAs(donor, campaign.id), 409);
    expect(problem.type).toContain("campaign-ended");
    expect(problem.detail).toContain("ended");
    expect(await written(h, campaign.id)).toEqual({ pledges: 0, events: 0 });
    if (h === direct) expect(h.bank.calls.length).toBe(bankCalls);
  });

  test("a pledge one millisecond before endsAt → 202 with its pledge.created", async () => {
    const h = harness();
    const donor = h.withAccount(user("early"));
    const { campaign, endsAt } = await endingCampaign(h);
    await h.createPledge(donor, (await h.campaign()).id);

    h.clock.set(endsAt - 1);
    const pledge = await h.createPledge(donor, campaign.id);
    expect(pledge).toMatchObject({ campaignId: campaign.id, status: "pending" });
    expect(await written(h, campaign.id)).toEqual({ pledges: 1, events: 1 });
  });

  test("at endsAt itself the campaign has ended (it ends AT that instant)", async () => {
    const h = harness();
    const donor = h.withAccount(user("punctual"));
    const { campaign, endsAt } = await endingCampaign(h);
    await h.createPledge(donor, (await h.campaign()).id);

    h.clock.set(endsAt);
    const problem = await expectProblem(await h.pledgeAs(donor, campaign.id), 409);
    expect(problem.type).toContain("campaign-ended");
    expect(await written(h, campaign.id)).toEqual({ pledges: 0, events: 0 });
  });

  test("the refusal is the key's stored answer: a retry replays the same 409, and stays refused", async () => {
    const h = harness();
    const donor = h.withAccount(user("retry"));
    const { campaign, endsAt } = await endingCampaign(h);
    await h.createPledge(donor, (await h.campaign()).id);

    h.clock.set(endsAt + 5);
    const key = `ended-${Bun.randomUUIDv7()}`;
    const first = await h.pledgeAs(donor, campaign.id, {}, key);
    const firstBody = await expectProblem(first, 409);
    const again = await h.pledgeAs(donor, campaign.id, {}, key);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await expectProblem(again, 409)).toEqual(firstBody);
    const [row] = await h.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, `user:${donor.id}`), eq(idempotencyKeys.key, key)));
    expect(row?.responseStatus).toBe(409);
    expect(await written(h, campaign.id)).toEqual({ pledges: 0, events: 0 });
  });
});

describe("the read model follows the campaign's end", () => {
  const event = (type: string, snapshot: CampaignSnapshot) => newEvent(type, snapshot.id, snapshot, direct.clock);

  test("endsAt is stored from campaign.created and replaced by a newer campaign.updated (never by an older one)", async () => {
    const h = direct;
    const { campaign, endsAt } = await endingCampaign(h);
    const stored = async () =>
      (await h.db.select({ endsAt: campaigns.endsAt }).from(campaigns).where(eq(campaigns.id, campaign.id)))[0]?.endsAt;
    expect((await stored())?.getTime()).toBe(endsAt);

    const later = new Date(endsAt + 10 * MINUTE).toISOString();
    expect(await h.campaignHandler(event("campaign.updated", { ...campaign, endsAt: later, version: 3 }))).toBe(
      "applied",
    );
    expect(
      await h.campaignHandler(
        event("campaign.updated", { ...campaign, endsAt: new Date(endsAt).toISOString(), version: 2 }),
      ),
    ).toBe("stale");
    expect((await stored())?.toISOString()).toBe(later);

    // Past the old end, before the new one: accepted.
    const donor = h.withAccount(user("extended"));
    h.clock.set(endsAt + 1);
    await h.createPledge(donor, campaign.id);

    // The end removed (null): open-ended from then on.
    expect(await h.campaignHandler(event("campaign.updated", { ...campaign, endsAt: null, version: 4 }))).toBe(
      "applied",
    );
    expect(await stored()).toBeNull();
    h.clock.set(endsAt + 20 * MINUTE);
    await h.createPledge(donor, campaign.id);
  });

  test("campaign.closed (the sweeper's and a manual close's event) closes it: 409 campaign-closed", async () => {
    const h = direct;
    const { campaign, endsAt } = await endingCampaign(h);
    h.clock.set(endsAt + 1);
    expect(
      await h.campaignHandler(
        event("campaign.closed", {
          ...campaign,
          status: "closed",
          version: 2,
          updatedAt: h.clock.date().toISOString(),
        }),
      ),
    ).toBe("applied");
    const problem = await expectProblem(await h.pledgeAs(h.withAccount(user("after-close")), campaign.id), 409);
    expect(problem.type).toContain("campaign-closed");
    expect(await written(h, campaign.id)).toEqual({ pledges: 0, events: 0 });
  });

  test("an end time that is not an instant is refused as malformed and changes nothing", async () => {
    const h = direct;
    const campaign = await h.campaign();
    expect(
      await h.campaignHandler(event("campaign.updated", { ...campaign, endsAt: "next tuesday", version: 2 })),
    ).toBe("malformed");
    const [row] = await h.db.select().from(campaigns).where(eq(campaigns.id, campaign.id));
    expect(row).toMatchObject({ version: 1, endsAt: null });
  });

  test("a pledge accepted before the end still settles after it (its capture is not refused)", async () => {
    const h = direct;
    const donor = h.withAccount(user("settles"));
    const { campaign, endsAt } = await endingCampaign(h);
    const pledge: PledgeModel.Pledge = await h.createPledge(donor, campaign.id);
    h.clock.set(endsAt + MINUTE);
    expect(await h.payment("payment.captured", pledge)).toBe("applied");
    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, pledge.id));
    expect(row?.status).toBe("captured");
  });
});
