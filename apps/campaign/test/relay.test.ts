// Committed writes reach the bus: the app calls onCommitted after each write (main wires it to
// relay.kick()), and the relay publishes each event once, in commit order, with its snapshot.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Bus, createMemoryBus, type EventEnvelope, type Subscription } from "@careforall/bus";
import type { CampaignSnapshot } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { createOutboxRelay, type OutboxRelay } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { isNull } from "drizzle-orm";
import { outbox } from "../src/db/schema";
import type { CampaignModel } from "../src/model";
import { type CampaignTestApp, startCampaignTestApp, user, validBody } from "./support";

let h: CampaignTestApp;
let bus: Bus;
let relay: OutboxRelay;
let subscription: Subscription;
const received: Array<EventEnvelope<CampaignSnapshot>> = [];
const alice = user("alice");

beforeAll(async () => {
  const log = silentLogger("campaign-relay-test");
  bus = createMemoryBus({ log });
  subscription = await bus.subscribe({
    types: ["campaign.*"],
    handler: async (event) => {
      received.push(event as EventEnvelope<CampaignSnapshot>);
    },
  });
  // relay is assigned before any write, so the hook always finds it.
  h = await startCampaignTestApp({ onCommitted: () => relay.kick() });
  // The default idle poll stays as a backstop: the lib's kick() is lost when it lands while a
  // drain is running, so asserting kick-only latency here would be flaky.
  relay = createOutboxRelay({ db: h.db, table: outbox, bus, log });
  relay.start();
});
afterAll(async () => {
  await relay.stop();
  await subscription.stop();
  await bus.close();
  await h.stop();
});

test("create, update and close are published once each, in order, with their versions", async () => {
  const created = (await (
    await h.call("POST", "/campaigns", { as: alice, body: validBody() })
  ).json()) as CampaignModel.Campaign;
  await waitFor(() => received.length === 1, { what: "campaign.created on the bus" });
  const updated = await (
    await h.call("PATCH", `/campaigns/${created.id}`, { as: alice, body: { goalMinor: 900 } })
  ).json();
  await waitFor(() => received.length === 2, { what: "campaign.updated on the bus" });
  const closed = await (await h.call("POST", `/campaigns/${created.id}/close`, { as: alice })).json();
  await waitFor(() => received.length === 3, { what: "the close event on the bus" });

  expect(received.map((e) => [e.type, e.aggregateId, e.data.version])).toEqual([
    ["campaign.created", created.id, 1],
    ["campaign.updated", created.id, 2],
    ["campaign.closed", created.id, 3],
  ]);
  expect(received.map((e) => e.data)).toEqual([created, updated, closed]);
  await waitFor(async () => (await h.db.select().from(outbox).where(isNull(outbox.publishedAt))).length === 0, {
    what: "every outbox row marked published",
  });
  expect(bus.stats().published).toBe(3);
  expect(h.commits()).toBe(3);
});
