// The campaign directory behind "posts only to campaigns that exist": campaign.created (and
// updated / closed) consumed from the bus — once however often delivered, a malformed event
// skipped without blocking its batch — after which the campaign's room accepts posts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createMemoryBus } from "@careforall/bus";
import { createLogger, silentLogger } from "@careforall/log";
import { campaignSnapshot, waitFor } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { createCampaignEventsHandler, startCampaignConsumer } from "../src/workers/campaign-events";
import { type ChatTestApp, campaignEvent as event, startChatTestApp, user } from "./support";

let h: ChatTestApp;
beforeAll(async () => {
  h = await startChatTestApp();
});
afterAll(() => h.stop());

const known = async (id: string) =>
  ((await h.db.execute<{ n: number }>(sql`select count(*)::int as n from chat.campaigns where id = ${id}`))[0]?.n ??
    0) === 1;

test("a campaign becomes postable once its campaign.created is consumed from the bus", async () => {
  const bus = createMemoryBus({ log: silentLogger() });
  const subscription = await startCampaignConsumer(bus, { db: h.db, clock: h.clock, log: silentLogger() });
  try {
    const campaign = campaignSnapshot();
    const room = `campaign:${campaign.id}`;
    const poster = user("Early bird");
    expect((await h.post(room, poster, { text: "first!" })).status).toBe(404);

    await bus.publish(event("campaign.created", campaign));
    await waitFor(() => known(campaign.id), { what: "the campaign in the directory" });
    expect((await h.post(room, poster, { text: "first!" })).status).toBe(201);

    // An update or a close of a campaign chat never saw created also proves it exists.
    const closed = campaignSnapshot({ status: "closed", version: 3 });
    await bus.publish(event("campaign.closed", closed));
    await waitFor(() => known(closed.id), { what: "the closed campaign" });
    expect((await h.post(`campaign:${closed.id}`, poster, { text: "still open for questions?" })).status).toBe(201);
  } finally {
    await subscription.stop();
    await bus.close();
  }
});

test("redelivered and repeated events add a campaign once; malformed ones are skipped, the rest of the batch applied", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  const log = createLogger({ service: "chat", level: "info", destination });
  const handle = createCampaignEventsHandler({ db: h.db, clock: h.clock, log });
  const a = campaignSnapshot();
  const b = campaignSnapshot();
  const created = event("campaign.created", a);
  expect(
    await handle([
      created,
      created,
      event("campaign.updated", { ...a, version: 2 }),
      event("campaign.created", { ...b, id: "not-a-uuid" }),
      event("campaign.created", { nope: true }),
      event("campaign.created", b),
    ]),
  ).toBe(2);
  expect(await handle([created])).toBe(0);
  expect(await known(a.id)).toBe(true);
  expect(await known(b.id)).toBe(true);
  expect(lines.map((l) => l.msg)).toEqual(["chat.campaign_event_malformed", "chat.campaign_event_malformed"]);
});
