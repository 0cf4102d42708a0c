// The real-time path on the servers profile, every part booted by bootService as ./cfa start runs
// it: the chat and notification services and TWO gateway replicas (main.ts: its fan-out from the
// boot context, CHAT_URL and NOTIFICATION_URL) on PostgreSQL, JetStream, Redis and NATS. Events
// published on JetStream reach sockets on both replicas exactly once and only their owners; chat
// said on one replica reaches the room on the other; the notification routes answer through the
// gateway; what the sockets held is given back when they close.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type BootedService, bootService, serversInfrastructure } from "@careforall/boot";
import { type Bus, createJetStreamBus, deleteStream, type EventEnvelope } from "@careforall/bus";
import { createTestDatabase, type TestDatabase } from "@careforall/db";
import type { CampaignSnapshot, PledgeChange, PledgeCreated } from "@careforall/events";
import { freePort, trustedKeysJson } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import {
  accessTokenSigner,
  campaignSnapshot,
  createTestKeys,
  TEST_ADMIN,
  TEST_NATS_URL,
  TEST_REDIS_URL,
  type TestPrincipal,
  testServiceKeys,
  uniqueName,
  waitFor,
} from "@careforall/testkit";
import { chatService } from "../../chat/src/main";
import { notificationService } from "../../notification/src/main";
import { gatewayService } from "../src/main";
import { type Frame, TestSocket } from "./realtime-harness";

const prefix = uniqueName("gw_rt");
const databases: TestDatabase[] = [];
const booted: Array<BootedService<unknown>> = [];
const sockets: TestSocket[] = [];
let bus: Bus;
let sign: Awaited<ReturnType<typeof accessTokenSigner>>;
let gateways: string[] = [];

const person = (name: string): TestPrincipal => ({
  id: Bun.randomUUIDv7(),
  email: `${name.toLowerCase()}-${Bun.randomUUIDv7()}@example.org`,
  name,
  role: "donor",
});

async function connect(gateway: string, user?: TestPrincipal): Promise<TestSocket> {
  const token = user ? `?token=${await sign(user)}` : "";
  const socket = await TestSocket.open(`${gateway.replace("http", "ws")}/api/ws${token}`);
  sockets.push(socket);
  return socket;
}

async function api(gateway: string, method: string, path: string, user?: TestPrincipal): Promise<Response> {
  return fetch(`${gateway}${path}`, {
    method,
    headers: user ? { authorization: `Bearer ${await sign(user)}` } : {},
  });
}

beforeAll(async () => {
  const keys = await testServiceKeys();
  const jwt = await createTestKeys();
  sign = await accessTokenSigner(jwt.privateKeyPem);
  const shared = {
    LOG_LEVEL: "silent",
    NATS_URL: TEST_NATS_URL,
    BUS_PREFIX: prefix,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `${prefix}:`,
    JWT_PUBLIC_KEY: jwt.publicKeyPem,
    SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
  };
  for (const [definition, name] of [
    [chatService, "chat"],
    [notificationService, "notification"],
  ] as const) {
    const tdb = await createTestDatabase(`gw_rt_${name}`);
    databases.push(tdb);
    booted.push(
      (await bootService(definition as never, {
        infrastructure: serversInfrastructure(),
        port: 0,
        env: { ...shared, DATABASE_URL: tdb.url, SERVICE_PRIVATE_KEY: keys[name].privateKeyPem },
      })) as BootedService<unknown>,
    );
  }
  const [chat, notification] = booted.map((b) => `http://127.0.0.1:${b.port}`);
  const nowhere = `http://127.0.0.1:${freePort()}`;
  for (let replica = 0; replica < 2; replica++) {
    const gateway = (await bootService(gatewayService, {
      infrastructure: serversInfrastructure(),
      port: 0,
      env: {
        ...shared,
        SERVICE_PRIVATE_KEY: keys.gateway.privateKeyPem,
        CHAT_URL: chat,
        NOTIFICATION_URL: notification,
        AUTH_URL: nowhere,
        CAMPAIGN_URL: nowhere,
        PLEDGE_URL: nowhere,
        PAYMENT_URL: nowhere,
        BANK_URL: nowhere,
        AUDIT_INTERVAL_SECONDS: "0",
      },
    })) as BootedService<unknown>;
    booted.push(gateway);
    gateways.push(`http://127.0.0.1:${gateway.port}`);
  }
  bus = await createJetStreamBus({ url: TEST_NATS_URL, prefix, log: silentLogger() });
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const b of booted.reverse()) await b.stop();
  await bus?.close();
  await deleteStream(TEST_NATS_URL, prefix).catch(() => {});
  for (const d of databases) await d.drop();
  gateways = [];
}, 30_000);

const campaignEvent = (type: string, snapshot: CampaignSnapshot): EventEnvelope =>
  newEvent(type, snapshot.id, snapshot) as EventEnvelope;

function pledgeEvents(campaignId: string, donorId: string) {
  const created: PledgeCreated = {
    pledgeId: Bun.randomUUIDv7(),
    campaignId,
    donorId,
    amountMinor: 25_000,
    currency: "BDT",
    source: { bankAccountId: "acct_1", grant: "g" },
    createdAt: new Date().toISOString(),
  };
  const change = (status: "authorized" | "captured"): EventEnvelope => {
    const data: PledgeChange = {
      pledgeId: created.pledgeId,
      campaignId,
      donorId,
      donorKey: donorId,
      donorName: "Ayesha",
      anonymous: false,
      message: null,
      status,
      amountMinor: 25_000,
      currency: "BDT",
      failureReason: null,
      at: new Date().toISOString(),
    };
    return newEvent(`pledge.${status}`, created.pledgeId, data) as EventEnvelope;
  };
  return {
    pledgeId: created.pledgeId,
    events: [
      newEvent("pledge.created", created.pledgeId, created) as EventEnvelope,
      change("authorized"),
      change("captured"),
    ],
  };
}

/** Follows the campaign on `socket` once the replica's snapshot store has it (campaign.created applied). */
async function follow(socket: TestSocket, campaignId: string): Promise<Frame> {
  return waitFor(
    async () => {
      const before = socket.frames.length;
      socket.send({ op: "follow", campaignId });
      await socket.barrier();
      return socket.frames.slice(before).find((f) => f.type === "campaign.totals") ?? null;
    },
    { what: `the campaign known to ${socket.ws.url}`, intervalMs: 50 },
  );
}

describe("two gateway replicas on NATS", () => {
  test("/ready names chat and notification, both up", async () => {
    for (const gateway of gateways) {
      const body = (await (await fetch(`${gateway}/ready`)).json()) as { checks: Record<string, string> };
      expect(body.checks).toMatchObject({ chat: "up", notification: "up" });
    }
  }, 30_000);

  test("a donor's pledge: status and notification frames on the donor's sockets on both replicas, once each, and nobody else's; totals to every follower", async () => {
    const donor = person("Ayesha");
    const other = person("Rafiq");
    const campaign = campaignSnapshot({ title: "Clean water" });
    await bus.publish(campaignEvent("campaign.created", campaign));
    const [a, b] = gateways as [string, string];
    const own = [await connect(a, donor), await connect(b, donor)];
    const bystanders = [await connect(a, other), await connect(b, TEST_ADMIN)];
    const followers = [await connect(a), await connect(b)];
    for (const f of followers) expect(await follow(f, campaign.id)).toMatchObject({ raisedMinor: 0 });
    await Promise.all([...own, ...bystanders].map((s) => s.barrier()));

    const pledge = pledgeEvents(campaign.id, donor.id);
    for (const event of pledge.events) await bus.publish(event);
    await bus.publish(
      campaignEvent("campaign.totals_changed", {
        ...campaign,
        version: 2,
        raisedMinor: 25_000,
        donorCount: 1,
        pledgeCount: 1,
      }),
    );

    for (const s of own) {
      await s.next((f) => f.type === "notification", "the donor's notification");
      await s.next((f) => f.type === "pledge.status" && f.status === "captured", "captured");
    }
    for (const f of followers) await f.next((x) => x.raisedMinor === 25_000, "the new totals");
    await Promise.all([...own, ...bystanders, ...followers].map((s) => s.barrier()));
    for (const s of own) {
      expect(s.of("pledge.status").map((f) => [f.pledgeId, f.status])).toEqual([
        [pledge.pledgeId, "authorized"],
        [pledge.pledgeId, "captured"],
      ]);
      expect(s.of("notification").map((f) => f.kind)).toEqual(["pledge.captured"]);
    }
    for (const s of bystanders) expect(s.frames.filter((f) => f.type !== "pong")).toEqual([]);
    for (const f of followers) expect(f.of("campaign.totals").map((x) => x.raisedMinor)).toEqual([0, 25_000]);

    // Stored: listed and marked read through the gateway.
    const listed = (await (await api(b, "GET", "/api/notifications", donor)).json()) as {
      items: Array<{ id: string; kind: string; readAt: string | null }>;
    };
    expect(listed.items.map((n) => [n.kind, n.readAt])).toEqual([["pledge.captured", null]]);
    const id = listed.items[0]?.id as string;
    expect((await api(a, "POST", `/api/notifications/${Bun.randomUUIDv7()}/read`, donor)).status).toBe(404);
    expect((await api(a, "POST", `/api/notifications/${id}/read`, other)).status).toBe(404);
    expect((await api(a, "POST", `/api/notifications/${id}/read`, donor)).status).toBe(204);
    const unread = (await (await api(a, "GET", "/api/notifications?unread=true", donor)).json()) as {
      items: unknown[];
    };
    expect(unread.items).toEqual([]);
    expect((await api(a, "POST", "/api/notifications/read-all", donor)).status).toBe(204);
    expect((await api(a, "GET", "/api/notifications")).status).toBe(401);
  }, 30_000);

  test("chat: said on one replica, the room hears it on both, once, with the sender's clientId; history through the gateway", async () => {
    const campaign = campaignSnapshot();
    await bus.publish(campaignEvent("campaign.created", campaign));
    const [a, b] = gateways as [string, string];
    const room = `campaign:${campaign.id}`;
    const speaker = person("Nusrat");
    const talker = await connect(a, speaker);
    const listener = await connect(b);
    // Known to the gateway (join checks the campaign) and to chat (it accepts posts for it).
    await follow(talker, campaign.id);
    for (const s of [talker, listener]) s.send({ op: "join", room });
    await Promise.all([talker.barrier(), listener.barrier()]);
    expect([...talker.of("error"), ...listener.of("error")]).toEqual([]);

    const said = await waitFor(
      async () => {
        const errors = talker.of("error").length;
        talker.send({ op: "say", room, text: "Kobe shesh hobe? 🙂", clientId: "opt-1" });
        await talker.barrier();
        return talker.of("error").length === errors ? true : null;
      },
      { what: "chat to know the campaign", intervalMs: 100 },
    );
    expect(said).toBe(true);
    const heard = await listener.next((f) => f.type === "chat.message", "the message on the other replica");
    expect(heard).toMatchObject({
      room,
      userId: speaker.id,
      name: "Nusrat",
      text: "Kobe shesh hobe? 🙂",
      clientId: "opt-1",
    });
    await talker.next((f) => f.type === "chat.message", "the sender's own copy");
    listener.send({ op: "say", room, text: "me too" });
    await listener.next((f) => f.type === "error" && f.code === "unauthorized", "anonymous say refused");
    await Promise.all([talker.barrier(), listener.barrier()]);
    expect(listener.of("chat.message")).toHaveLength(1);
    expect(talker.of("chat.message")).toHaveLength(1);

    const history = (await (await api(b, "GET", `/api/chat/rooms/${room}/messages?limit=10`)).json()) as Frame[];
    expect(history.map((m) => m.text)).toEqual(["Kobe shesh hobe? 🙂"]);
    expect((await api(b, "GET", `/api/chat/rooms/support:${speaker.id}/messages`, person("Other"))).status).toBe(404);
  }, 30_000);

  test("support rooms over the WebSocket: the user and an admin hear each other; another user's support room is forbidden", async () => {
    const [a, b] = gateways as [string, string];
    const user = person("Tanvir");
    const room = `support:${user.id}`;
    const mine = await connect(a, user);
    const admin = await connect(b, TEST_ADMIN);
    for (const s of [mine, admin]) s.send({ op: "join", room });
    await Promise.all([mine.barrier(), admin.barrier()]);
    mine.send({ op: "say", room, text: "My pledge is stuck" });
    await admin.next((f) => f.type === "chat.message" && f.text === "My pledge is stuck", "the admin hears it");
    admin.send({ op: "say", room, text: "Looking into it" });
    await mine.next((f) => f.type === "chat.message" && f.text === "Looking into it", "the user hears the answer");
    // A support room the socket did not join: the gateway refuses before asking chat.
    mine.send({ op: "say", room: `support:${Bun.randomUUIDv7()}`, text: "hello?" });
    await mine.next((f) => f.type === "error" && f.code === "forbidden", "forbidden");
  }, 30_000);

  test("closing every socket gives every fan-out topic back", async () => {
    for (const s of sockets) s.close();
    for (const gateway of gateways)
      await waitFor(
        async () => {
          const text = await (await fetch(`${gateway}/metrics`)).text();
          return (
            /careforall_gateway_ws_open_sockets\{[^}]*\} 0\b/.test(text) &&
            /careforall_gateway_ws_fanout_topics\{[^}]*\} 0\b/.test(text)
          );
        },
        { what: `${gateway} to hold no socket and no topic` },
      );
  }, 30_000);
});
