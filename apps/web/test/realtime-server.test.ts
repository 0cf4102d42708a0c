// The tab's WebSocket client against a real WebSocket server (Bun.serve), not a fake socket: when the
// server drops every connection (a gateway restart) and refuses new ones for a while, the client waits
// a growing, capped delay between attempts, comes back with a fresh token, and re-sends exactly what
// the page still holds — campaigns, a guest's pledge with its receipt token, a chat room — and nothing
// it released; pages hear that it reconnected, and pushes flow again.
import { afterAll, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import type { ServerWebSocket } from "bun";
import { createRealtime, type ServerFrame } from "../src/realtime/socket";

interface Conn {
  url: string;
  frames: Record<string, unknown>[];
  ws: ServerWebSocket<{ id: number }>;
}

const conns: Conn[] = [];
let refusing = false;
let refused = 0;
const server = Bun.serve<{ id: number; url: string }>({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, srv) {
    if (refusing) {
      refused++;
      return new Response("restarting", { status: 503 });
    }
    if (srv.upgrade(req, { data: { id: conns.length, url: req.url } })) return undefined;
    return new Response("not a websocket", { status: 400 });
  },
  websocket: {
    open(ws) {
      conns[ws.data.id] = { url: ws.data.url, frames: [], ws: ws as unknown as ServerWebSocket<{ id: number }> };
    },
    message(ws, message) {
      const frame = JSON.parse(String(message)) as Record<string, unknown>;
      conns[ws.data.id]?.frames.push(frame);
      if (frame.op === "ping") ws.send(JSON.stringify({ type: "pong" }));
    },
  },
});
afterAll(() => server.stop(true));

test("after the server drops it, the client backs off, reconnects and re-follows what the page still needs", async () => {
  const delays: number[] = [];
  let tokens = 0;
  const rt = createRealtime({
    url: `ws://127.0.0.1:${server.port}/api/ws`,
    token: async () => `token-${++tokens}`,
    random: () => 1, // the top of the full-jitter range: the delays are the backoff's caps
    baseDelayMs: 50,
    maxDelayMs: 400,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, ms);
    },
  });
  const pushed: ServerFrame[] = [];
  rt.on((f) => pushed.push(f));
  let reconnects = 0;
  rt.onReconnect(() => reconnects++);

  rt.followCampaign("c-kept");
  const released = rt.followCampaign("c-released");
  rt.followPledge("p-guest", "receipt-secret");
  rt.joinRoom("campaign:c-kept");
  await waitFor(() => (conns[0]?.frames.length ?? 0) >= 4, { what: "the first connection's follows" });
  released();
  await waitFor(() => (conns[0]?.frames.length ?? 0) >= 5, { what: "the unfollow" });
  expect(conns[0]?.frames).toEqual([
    { op: "follow", campaignId: "c-kept" },
    { op: "follow", campaignId: "c-released" },
    { op: "follow", pledgeId: "p-guest", receiptToken: "receipt-secret" },
    { op: "join", room: "campaign:c-kept" },
    { op: "unfollow", campaignId: "c-released" },
  ]);
  expect(reconnects).toBe(0);

  // The gateway restarts: every socket closed from the server's side, and upgrades refused meanwhile.
  refusing = true;
  conns[0]?.ws.close(1012, "service restart");
  await waitFor(() => refused >= 3, { timeoutMs: 20_000, what: "three refused reconnection attempts" });
  expect(conns).toHaveLength(1);
  refusing = false;

  await waitFor(() => (conns[1]?.frames.length ?? 0) >= 3, {
    timeoutMs: 20_000,
    what: "the new connection's follows",
  });
  // Each wait was the backoff's cap for that attempt: 50, 100, 200, then 400 (the maximum) for good.
  const expected = [50, 100, 200, 400, 400, 400, 400, 400, 400, 400];
  expect(delays.length).toBeGreaterThanOrEqual(4);
  expect(delays).toEqual(expected.slice(0, delays.length));
  // Exactly what the page still holds, nothing released, each once; with a token of its own.
  const second = conns[1] as Conn;
  expect(second.frames).toEqual([
    { op: "follow", campaignId: "c-kept" },
    { op: "follow", pledgeId: "p-guest", receiptToken: "receipt-secret" },
    { op: "join", room: "campaign:c-kept" },
  ]);
  expect(new URL(second.url).searchParams.get("token")).toBe(`token-${tokens}`);
  expect(new URL(conns[0]?.url as string).searchParams.get("token")).toBe("token-1");
  expect(tokens).toBeGreaterThan(1);
  await waitFor(() => reconnects === 1, { what: "the page told it reconnected" });

  // And the feed is live again.
  second.ws.send(
    JSON.stringify({ type: "campaign.totals", campaignId: "c-kept", raisedMinor: 500, donorCount: 1, pledgeCount: 1 }),
  );
  await waitFor(() => pushed.some((f) => f.type === "campaign.totals"), { what: "a push after the reconnect" });
  rt.close();
}, 60_000);
