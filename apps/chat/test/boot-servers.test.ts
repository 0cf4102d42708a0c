// chatService booted by bootService on the servers profile — PostgreSQL, JetStream, Redis and the
// NATS fan-out — as ./cfa start runs it: campaign.created on the bus opens the campaign's room, a
// post over HTTP (as the gateway sends it) is stored, and two other NATS connections (two gateway
// replicas) each get exactly one chat.message frame for it; /ready and /metrics answer.
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
import { chatService } from "../src/main";
import { user } from "./support";

const prefix = uniqueName("chat");
let tdb: TestDatabase;
let booted: BootedService<unknown>;
let bus: Bus;
let replicas: Fanout[];
let signToken: Awaited<ReturnType<typeof accessTokenSigner>>;
let base: string;

beforeAll(async () => {
  tdb = await createTestDatabase("chat_boot");
  const keys = await testServiceKeys();
  const jwt = await createTestKeys();
  signToken = await accessTokenSigner(jwt.privateKeyPem);
  booted = (await bootService(chatService, {
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
      SERVICE_PRIVATE_KEY: keys.chat.privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
      CHAT_RATE_PER_10S: "100",
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

test("a message posted to the booted service reaches every replica's fan-out exactly once", async () => {
  const campaign = campaignSnapshot();
  const room = `campaign:${campaign.id}`;
  const poster = user("Rahim Uddin");
  const received = replicas.map((replica) => {
    const frames: string[] = [];
    replica.subscribe(`chat.${room}`, (json) => frames.push(json));
    return frames;
  });
  await Promise.all(replicas.map((r) => r.flush()));

  const post = async (text: string, clientId?: string) =>
    fetch(`${base}/rooms/${room}/messages`, {
      method: "POST",
      headers: {
        ...(await serviceHeaders("chat", "gateway")),
        authorization: `Bearer ${await signToken(poster)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ text, ...(clientId ? { clientId } : {}) }),
    });

  // Unknown until campaign.created arrives through JetStream.
  expect((await post("too early")).status).toBe(404);
  await bus.publish({
    id: Bun.randomUUIDv7(),
    type: "campaign.created",
    occurredAt: new Date().toISOString(),
    aggregateId: campaign.id,
    data: campaign,
  });
  const first = await waitFor(
    async () => {
      const res = await post("Kobe shesh hobe?", "opt-42");
      return res.status === 201 ? ((await res.json()) as Record<string, unknown>) : null;
    },
    { what: "the room to open" },
  );
  // A retry of the same post: answered from the store, no second frame.
  const retry = await post("Kobe shesh hobe?", "opt-42");
  expect(retry.headers.get("idempotent-replayed")).toBe("true");
  const second = (await (await post("<i>thanks</i>")).json()) as Record<string, unknown>;

  await waitFor(() => received.every((frames) => frames.length >= 2), { what: "two frames on each replica" });
  for (const frames of received) {
    expect(frames.map((json) => JSON.parse(json))).toEqual([
      { type: "chat.message", ...first },
      { type: "chat.message", ...second },
    ]);
  }
  expect(first).toMatchObject({ room, userId: poster.id, name: "Rahim Uddin", clientId: "opt-42" });

  // History over HTTP, as a guest through the gateway.
  const history = await fetch(`${base}/rooms/${room}/messages`, { headers: await serviceHeaders("chat", "gateway") });
  expect(((await history.json()) as Array<{ id: string }>).map((m) => m.id)).toEqual([
    String(second.id),
    String(first.id),
  ]);
});

test("/health, /ready (postgres, NATS, Redis) and /metrics answer without a service credential", async () => {
  expect((await fetch(`${base}/health`)).status).toBe(200);
  const ready = await fetch(`${base}/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({
    status: "ready",
    service: "chat",
    checks: { postgres: "up", nats: "up", redis: "up" },
  });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toMatch(/^chat_messages_stored_total\{service="chat"\} 2$/m);
  expect(metrics).toMatch(/^chat_posts_rate_limited_total\{service="chat"\} 0$/m);
  expect(metrics).toContain('consumer="chat-campaigns"');
});
