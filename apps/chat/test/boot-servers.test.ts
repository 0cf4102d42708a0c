// chatService booted by bootService on the servers profile — PostgreSQL, JetStream, Redis and the
// NATS fan-out — as ./cfa start runs it: campaign.created on the bus opens the campaign's room, a
// post over HTTP (as the gateway sends it) is stored, and two other NATS connections (two gateway
// replicas) each get exactly one chat.message frame for it; /ready and /metrics answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootForTest, campaignSnapshot, type TestBootFor, waitFor } from "@careforall/testkit";
import { chatService } from "../src/main";
import { campaignEvent, user } from "./support";

let t: TestBootFor<"servers", unknown>;

beforeAll(async () => {
  t = await bootForTest(chatService, { label: "chat", profile: "servers", env: { CHAT_RATE_PER_10S: "100" } });
});

afterAll(() => t?.close());

test("a message posted to the booted service reaches every replica's fan-out exactly once", async () => {
  const campaign = campaignSnapshot();
  const room = `campaign:${campaign.id}`;
  const poster = user("Rahim Uddin");
  const received = t.replicas.map((replica) => {
    const frames: string[] = [];
    replica.subscribe(`chat.${room}`, (json) => frames.push(json));
    return frames;
  });
  await Promise.all(t.replicas.map((r) => r.flush()));

  // Over HTTP to the listening port, with the gateway's credential and the poster's token.
  const post = (text: string, clientId?: string) =>
    t.call("POST", `/rooms/${room}/messages`, { as: poster, body: { text, ...(clientId ? { clientId } : {}) } });

  // Unknown until campaign.created arrives through JetStream.
  expect((await post("too early")).status).toBe(404);
  await t.bus.publish(campaignEvent("campaign.created", campaign));
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
  const history = await t.call("GET", `/rooms/${room}/messages`);
  expect(((await history.json()) as Array<{ id: string }>).map((m) => m.id)).toEqual([
    String(second.id),
    String(first.id),
  ]);
});

test("/health, /ready (postgres, NATS, Redis) and /metrics answer without a service credential", async () => {
  expect((await fetch(`${t.url}/health`)).status).toBe(200);
  const ready = await fetch(`${t.url}/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({
    status: "ready",
    service: "chat",
    checks: { postgres: "up", nats: "up", redis: "up" },
  });
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  expect(metrics).toMatch(/^careforall_chat_messages_stored_total\{service="chat"\} 2$/m);
  expect(metrics).toMatch(/^careforall_chat_posts_rate_limited_total\{service="chat"\} 0$/m);
  expect(metrics).toContain('consumer="chat-campaigns"');
});
