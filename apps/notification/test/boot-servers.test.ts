// notificationService booted by bootService on the servers profile — PostgreSQL, JetStream, Redis
// and the NATS fan-out — as ./cfa start runs it: a donor's pledge published on JetStream reaches
// two other NATS connections (two gateway replicas) as exactly one frame each per change, the
// campaign's followers get its totals, the notification is stored and read back over HTTP as the
// gateway calls; /ready and /metrics answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BootedService, bootService, serversInfrastructure } from "@careforall/boot";
import { type Bus, createJetStreamBus, createNatsFanout, deleteStream, type Fanout } from "@careforall/bus";
import { createTestDatabase, type TestDatabase } from "@careforall/db";
import { trustedKeysJson } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import {
  accessTokenSigner,
  campaignSnapshot,
  createTestKeys,
  serviceHeaders,
  TEST_NATS_URL,
  TEST_REDIS_URL,
  testServiceKeys,
  uniqueName,
  waitFor,
} from "@careforall/testkit";
import { notificationService } from "../src/main";
import { campaignEvent, pledgeChange, pledgeCreated, user } from "./support";

const prefix = uniqueName("notification");
let tdb: TestDatabase;
let booted: BootedService<unknown>;
let bus: Bus;
let replicas: Fanout[];
let signToken: Awaited<ReturnType<typeof accessTokenSigner>>;
let base: string;

beforeAll(async () => {
  tdb = await createTestDatabase("notification_boot");
  const keys = await testServiceKeys();
  const jwt = await createTestKeys();
  signToken = await accessTokenSigner(jwt.privateKeyPem);
  booted = (await bootService(notificationService, {
    infrastructure: serversInfrastructure(),
    port: 0,
    env: {
      LOG_LEVEL: "silent",
      DATABASE_URL: tdb.url,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: `${prefix}:`,
      JWT_PUBLIC_KEY: jwt.publicKeyPem,
      SERVICE_PRIVATE_KEY: keys.notification.privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
    },
  })) as BootedService<unknown>;
  base = `http://127.0.0.1:${booted.port}`;
  bus = await createJetStreamBus({ url: TEST_NATS_URL, prefix, log: silentLogger() });
  replicas = await Promise.all(
    ["gateway-a", "gateway-b"].map((name) =>
      createNatsFanout({ url: TEST_NATS_URL, prefix, log: silentLogger(), name: `${prefix}-${name}` }),
    ),
  );
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await booted.stop();
  await bus.close();
  await deleteStream(TEST_NATS_URL, prefix);
  await tdb.drop();
});

test("a donor's captured pledge: one frame per change on each replica, totals to followers, stored and listed", async () => {
  const donor = user("Ayesha");
  const campaign = campaignSnapshot({ title: "Clean water" });
  const created = pledgeCreated({ campaignId: campaign.id, donorId: donor.id });
  const topics = [`user.${donor.id}`, `pledge.${created.data.pledgeId}`, `campaign.${campaign.id}`];
  const received = replicas.map((replica) => {
    const frames: Record<string, Array<Record<string, unknown>>> = Object.fromEntries(topics.map((t) => [t, []]));
    for (const topic of topics) replica.subscribe(topic, (json) => frames[topic]!.push(JSON.parse(json)));
    return frames;
  });
  await Promise.all(replicas.map((r) => r.flush()));

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
    await bus.publish(event);
  // The same event published again inside the duplicate window is dropped by JetStream itself;
  // past it, the inbox absorbs it (events.test.ts).
  await bus.publish(captured);

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
    const res = await fetch(`${base}/notifications`, {
      headers: {
        ...(await serviceHeaders("notification", "gateway")),
        authorization: `Bearer ${await signToken(donor)}`,
      },
    });
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
  expect((await fetch(`${base}/health`)).status).toBe(200);
  const ready = await fetch(`${base}/ready`);
  expect(ready.status).toBe(200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toMatch(/^notifications_stored_total\{kind="pledge.captured",service="notification"\} 1$/m);
  expect(metrics).toMatch(/^notification_pushes_total\{topic="campaign",service="notification"\} 1$/m);
  expect(metrics).toContain('consumer="notification-events"');
});
