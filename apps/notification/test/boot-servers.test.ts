// notificationService booted by bootService on the servers profile — PostgreSQL, JetStream, Redis
// and the NATS fan-out — as ./cfa start runs it: a donor's pledge published on JetStream reaches
// two other NATS connections (two gateway replicas) as exactly one frame each per change, the
// campaign's followers get its totals, the notification is stored and read back over HTTP as the
// gateway calls; /ready and /metrics answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootForTest, campaignSnapshot, type TestBootFor, waitFor } from "@careforall/testkit";
import { notificationService } from "../src/main";
import { campaignEvent, pledgeChange, pledgeCreated, user } from "./support";

let t: TestBootFor<"servers", unknown>;

beforeAll(async () => {
  t = await bootForTest(notificationService, { label: "notification", profile: "servers" });
});

afterAll(() => t?.close());

test("a donor's captured pledge: one frame per change on each replica, totals to followers, stored and listed", async () => {
  const donor = user("Ayesha");
  const campaign = campaignSnapshot({ title: "Clean water" });
  const created = pledgeCreated({ campaignId: campaign.id, donorId: donor.id });
  const topics = [`user.${donor.id}`, `pledge.${created.data.pledgeId}`, `campaign.${campaign.id}`];
  const received = t.replicas.map((replica) => {
    const frames: Record<string, Array<Record<string, unknown>>> = Object.fromEntries(topics.map((t) => [t, []]));
    for (const topic of topics) replica.subscribe(topic, (json) => frames[topic]!.push(JSON.parse(json)));
    return frames;
  });
  await Promise.all(t.replicas.map((r) => r.flush()));

  const captured = pledgeChange(created.data, "captured");
  for (const event of [
    campaignEvent("campaign.created", campaign),
    created,
    pledgeChange(created.data, "authorized"),
    captured,
    campaignEvent("campaign.totals_changed", {
      ...campaign,
      version: 2,
      raisedMinor: 25_000,
      donorCount: 1,
      pledgeCount: 1,
    }),
  ])
    await t.bus.publish(event);
  // The same event published again inside the duplicate window is dropped by JetStream itself;
  // past it, the inbox absorbs it (events.test.ts).
  await t.bus.publish(captured);

  await waitFor(
    () =>
      received.every(
        (frames) => frames[`user.${donor.id}`]!.length >= 3 && frames[`campaign.${campaign.id}`]!.length >= 1,
      ),
    {
      what: "the frames on both replicas",
    },
  );
  const listing = await waitFor(async () => {
    const res = await t.call("GET", "/notifications", { as: donor });
    const body = (await res.json()) as { items: Array<Record<string, unknown>> };
    return body.items.length > 0 ? body : null;
  });
  expect(listing.items.map((n) => [n.kind, n.body])).toEqual([
    ["pledge.captured", "Your donation of BDT 250.00 to “Clean water” was received."],
  ]);
  for (const frames of received) {
    expect(frames[`user.${donor.id}`]!.map((f) => f.status ?? f.kind)).toEqual([
      "authorized",
      "captured",
      "pledge.captured",
    ]);
    expect(frames[`pledge.${created.data.pledgeId}`]!.map((f) => f.status)).toEqual(["authorized", "captured"]);
    expect(frames[`campaign.${campaign.id}`]).toEqual([
      { type: "campaign.totals", campaignId: campaign.id, raisedMinor: 25_000, donorCount: 1, pledgeCount: 1 },
    ]);
  }
});

test("/health, /ready and /metrics answer without a service credential", async () => {
  expect((await fetch(`${t.url}/health`)).status).toBe(200);
  const ready = await fetch(`${t.url}/ready`);
  expect(ready.status).toBe(200);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  expect(metrics).toMatch(
    /^careforall_notifications_stored_total\{kind="pledge.captured",service="notification"\} 1$/m,
  );
  expect(metrics).toMatch(/^careforall_notification_pushes_total\{topic="campaign",service="notification"\} 1$/m);
  expect(metrics).toContain('consumer="notification-events"');
});
