// GET /api/ws against a listening gateway with real sockets (Bun's WebSocket client): the upgrade's
// authentication, the frame validation matrix, the 16 KiB limit, rate limiting and abuse, caps,
// who may follow, join and say, whose pushes reach whom, one fan-out listener per topic however
// many sockets, the first totals frame of a follow, and a slow reader closed rather than buffered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as tcpConnect } from "node:net";
import { TEST_ADMIN, type TestPrincipal, waitFor } from "@careforall/testkit";
import fc from "fast-check";
import { type Frame, type RealtimeGateway, startRealtimeGateway, type TestSocket } from "./realtime-harness";

const donor = (name: string): TestPrincipal => ({
  id: Bun.randomUUIDv7(),
  email: `${name}-${Bun.randomUUIDv7()}@example.org`,
  name,
  role: "donor",
});

const isError = (code: string) => (f: Frame) => f.type === "error" && f.code === code;

/** The `upgrade` request a browser sends, made with fetch to read a refusal's status and body. */
function upgradeRequest(gw: RealtimeGateway, query: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${gw.port}/api/ws${query}`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
}

describe("the upgrade", () => {
  let gw: RealtimeGateway;
  beforeAll(async () => {
    gw = await startRealtimeGateway();
  });
  afterAll(() => gw.stop());

  test("a present but invalid token is refused with a 401 problem; an empty one too", async () => {
    for (const query of ["?token=not-a-jwt", "?token="]) {
      const res = await upgradeRequest(gw, query);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(((await res.json()) as Frame).status).toBe(401);
    }
  });

  test("a token signed by another key is refused (the same verification as bearer tokens)", async () => {
    const other = await startRealtimeGateway();
    try {
      const foreign = await other.sign(donor("mallory"));
      expect((await upgradeRequest(gw, `?token=${foreign}`)).status).toBe(401);
    } finally {
      await other.stop();
    }
  });

  test("a signed-in socket is closed (4401) when its access token expires; an anonymous one stays", async () => {
    const anon = await gw.connect();
    const s = await gw.connect(await gw.sign(donor("brief"), "2s"));
    await s.barrier();
    const closed = await s.waitClosed(5_000);
    expect(closed).toEqual({ code: 4401, reason: "The access token expired" });
    await anon.barrier();
    expect(anon.closed).toBeNull();
    expect(await gw.metricsText()).toMatch(/careforall_gateway_ws_closes_total\{[^}]*reason="token_expired"[^}]*\} 1/);
  }, 15_000);

  test("no token opens an anonymous socket; a valid one a signed-in socket", async () => {
    const anon = await gw.connect();
    const signedIn = await gw.connect(await gw.sign(donor("ayesha")));
    await anon.barrier();
    await signedIn.barrier();
    expect(anon.closed).toBeNull();
    expect(signedIn.closed).toBeNull();
  });
});

describe("frames", () => {
  let gw: RealtimeGateway;
  let user: TestPrincipal;
  let socket: TestSocket;
  beforeAll(async () => {
    gw = await startRealtimeGateway({ config: { WS_FRAME_BURST: 200, WS_FRAMES_PER_SECOND: 200 } });
    user = donor("rafiq");
    socket = await gw.connect(await gw.sign(user));
  });
  afterAll(() => gw.stop());

  const room = () => `campaign:${gw.campaign().id}`;
  const matrix: Array<[string, () => string | Uint8Array | Frame, string]> = [
    ["text that is not JSON", () => "{not json", "invalid_json"],
    ["binary that is not JSON", () => new Uint8Array([0xff, 0x00, 0x7b]), "invalid_json"],
    ["a JSON array", () => "[1,2]", "invalid_frame"],
    ["a JSON number", () => "42", "invalid_frame"],
    ["an object without op", () => ({ campaignId: Bun.randomUUIDv7() }), "invalid_frame"],
    ["an unknown op", () => ({ op: "dance" }), "unknown_op"],
    ["an op that is not a string", () => ({ op: 7 }), "unknown_op"],
    ["follow without campaignId", () => ({ op: "follow" }), "invalid_frame"],
    ["follow with a campaignId that is not a UUID", () => ({ op: "follow", campaignId: "42" }), "invalid_frame"],
    ["unfollow without campaignId", () => ({ op: "unfollow" }), "invalid_frame"],
    ["join without room", () => ({ op: "join" }), "invalid_frame"],
    ["leave with a room that is not a string", () => ({ op: "leave", room: 5 }), "invalid_frame"],
    ["join of a room that is no room", () => ({ op: "join", room: "lobby" }), "forbidden"],
    ["join of another user's support room", () => ({ op: "join", room: `support:${Bun.randomUUIDv7()}` }), "forbidden"],
    ["say without text", () => ({ op: "say", room: room() }), "invalid_frame"],
    ["say with empty text", () => ({ op: "say", room: room(), text: "" }), "invalid_text"],
    ["say with 2001 characters", () => ({ op: "say", room: room(), text: "x".repeat(2001) }), "invalid_text"],
    [
      "say with a clientId over 64",
      () => ({ op: "say", room: room(), text: "hi", clientId: "c".repeat(65) }),
      "invalid_frame",
    ],
    ["follow of an unknown campaign", () => ({ op: "follow", campaignId: Bun.randomUUIDv7() }), "not_found"],
  ];

  for (const [what, frame, code] of matrix) {
    test(`${what} → error ${code}, and the socket stays open`, async () => {
      const before = socket.of("error").length;
      socket.send(frame());
      const error = await socket.next((f) => f.type === "error", `an error frame for ${what}`, before + 1);
      expect(error).toEqual({ type: "error", code, message: expect.any(String) });
      await socket.barrier();
      expect(socket.closed).toBeNull();
    });
  }

  test("2000 characters counted as code points (2000 emoji are 4000 UTF-16 units) go to the chat service", async () => {
    const text = "🙂".repeat(2000);
    const r = room();
    socket.send({ op: "say", room: r, text, clientId: "c-1" });
    await socket.barrier();
    expect(gw.calls.say.at(-1)).toEqual({ room: r, text, clientId: "c-1", bearer: expect.any(String) });
  });

  test("a frame of exactly 16 KiB is read; one byte more closes the socket with 1009", async () => {
    const s = await gw.connect();
    const exact = JSON.stringify({ op: "ping", pad: "" });
    s.send(JSON.stringify({ op: "ping", pad: "p".repeat(16 * 1024 - exact.length) }));
    await s.next((f) => f.type === "pong", "the pong of a 16 KiB frame");
    s.send(JSON.stringify({ op: "ping", pad: "p".repeat(16 * 1024 - exact.length + 1) }));
    expect((await s.waitClosed()).code).toBe(1009);
  });
});

describe("rate limits", () => {
  test("frames past the burst get rate_limited error frames, the socket stays; sustained abuse closes it with 1008", async () => {
    // Time stands still for the budget: exactly the burst passes, whatever the machine's speed.
    const frozen = Date.now();
    const gw = await startRealtimeGateway({
      config: { WS_FRAMES_PER_SECOND: 20, WS_FRAME_BURST: 40 },
      clock: { now: () => frozen, date: () => new Date(frozen) },
    });
    try {
      const s = await gw.connect();
      for (let i = 0; i < 60; i++) s.send({ op: "ping" });
      await s.next(isError("rate_limited"), "the 20th rate_limited", 20);
      expect(s.of("pong").length).toBe(40);
      expect(s.closed).toBeNull();
      // 3× the rate over 3 s (plus the burst): far past it at once is abuse.
      for (let i = 0; i < 300; i++) s.send({ op: "ping" });
      const closed = await s.waitClosed();
      expect(closed.code).toBe(1008);
      expect(await gw.metricsText()).toMatch(/careforall_gateway_ws_closes_total\{[^}]*reason="rate_abuse"[^}]*\} 1/);
    } finally {
      await gw.stop();
    }
  });
});

describe("caps", () => {
  let gw: RealtimeGateway;
  beforeAll(async () => {
    gw = await startRealtimeGateway({ config: { WS_MAX_FOLLOWS: 3, WS_MAX_ROOMS: 2 } });
  });
  afterAll(() => gw.stop());

  test("follows per socket are capped (too_many_follows); unfollowing frees a place", async () => {
    const s = await gw.connect();
    const ids = [gw.campaign(), gw.campaign(), gw.campaign(), gw.campaign()].map((c) => c.id);
    for (const id of ids) s.send({ op: "follow", campaignId: id });
    await s.next(isError("too_many_follows"), "too_many_follows");
    await s.barrier();
    expect(s.of("campaign.totals").map((f) => f.campaignId)).toEqual(ids.slice(0, 3));
    s.send({ op: "unfollow", campaignId: ids[0] });
    s.send({ op: "follow", campaignId: ids[3] });
    await s.next((f) => f.type === "campaign.totals" && f.campaignId === ids[3], "the fourth campaign's totals");
  });

  test("rooms per socket are capped (too_many_rooms)", async () => {
    const s = await gw.connect();
    for (let i = 0; i < 3; i++) s.send({ op: "join", room: `campaign:${gw.campaign().id}` });
    await s.next(isError("too_many_rooms"), "too_many_rooms");
    await s.barrier();
    expect(s.of("error")).toHaveLength(1);
  });
});

describe("who gets what", () => {
  let gw: RealtimeGateway;
  beforeAll(async () => {
    gw = await startRealtimeGateway();
  });
  afterAll(() => gw.stop());

  test("follow sends the campaign's current totals at once, then its fan-out frames", async () => {
    const c = gw.campaign({ raisedMinor: 125_000, donorCount: 4, pledgeCount: 5 });
    const s = await gw.connect();
    s.send({ op: "follow", campaignId: c.id });
    const first = await s.next((f) => f.type === "campaign.totals", "the current totals");
    expect(first).toEqual({
      type: "campaign.totals",
      campaignId: c.id,
      raisedMinor: 125_000,
      donorCount: 4,
      pledgeCount: 5,
    });
    const pushed = { type: "campaign.totals", campaignId: c.id, raisedMinor: 150_000, donorCount: 5, pledgeCount: 6 };
    gw.fanout.publish(`campaign.${c.id}`, pushed);
    expect(await s.next((f) => f.type === "campaign.totals", "the pushed totals", 2)).toEqual(pushed);
    s.send({ op: "unfollow", campaignId: c.id });
    await s.barrier();
    gw.fanout.publish(`campaign.${c.id}`, { ...pushed, raisedMinor: 1 });
    await s.barrier();
    expect(s.of("campaign.totals")).toHaveLength(2);
  });

  test("anonymous sockets may follow and read campaign rooms, but not join support rooms nor say", async () => {
    const c = gw.campaign();
    const s = await gw.connect();
    s.send({ op: "follow", campaignId: c.id });
    await s.next((f) => f.type === "campaign.totals", "totals for an anonymous follower");
    s.send({ op: "join", room: `campaign:${c.id}` });
    s.send({ op: "join", room: `support:${Bun.randomUUIDv7()}` });
    s.send({ op: "say", room: `campaign:${c.id}`, text: "hello" });
    await s.barrier();
    expect(s.of("error").map((f) => f.code)).toEqual(["forbidden", "unauthorized"]);
    const says = gw.calls.say.length;
    const message = { type: "chat.message", id: Bun.randomUUIDv7(), room: `campaign:${c.id}`, text: "hi", at: "x" };
    gw.fanout.publish(`chat.campaign:${c.id}`, message);
    expect(await s.next((f) => f.type === "chat.message", "the room's message")).toEqual(message);
    expect(gw.calls.say.length).toBe(says);
  });

  test("a socket of user A never receives user B's frames; B's own sockets all do", async () => {
    const a = donor("a");
    const b = donor("b");
    const socketA = await gw.connect(await gw.sign(a));
    const socketsB = [await gw.connect(await gw.sign(b)), await gw.connect(await gw.sign(b))];
    const frame = {
      type: "pledge.status",
      pledgeId: Bun.randomUUIDv7(),
      campaignId: "c",
      status: "captured",
      failureReason: null,
    };
    gw.fanout.publish(`user.${b.id}`, frame);
    for (const s of socketsB) expect(await s.next((f) => f.type === "pledge.status", "B's own frame")).toEqual(frame);
    await socketA.barrier();
    gw.fanout.publish(`user.${a.id}`, { ...frame, pledgeId: "a-own" });
    await socketA.next((f) => f.type === "pledge.status", "A's own frame");
    expect(socketA.of("pledge.status").map((f) => f.pledgeId)).toEqual(["a-own"]);
    for (const s of socketsB) expect(s.of("pledge.status")).toHaveLength(1);
  });

  test("admins get `admins` frames, donors do not", async () => {
    const admin = await gw.connect(await gw.sign(TEST_ADMIN));
    const donorSocket = await gw.connect(await gw.sign(donor("d")));
    const anon = await gw.connect();
    await Promise.all([admin.barrier(), donorSocket.barrier(), anon.barrier()]);
    const frame = {
      type: "notification",
      id: Bun.randomUUIDv7(),
      kind: "pledge.stuck",
      title: "t",
      body: "b",
      at: "x",
    };
    gw.fanout.publish("admins", frame);
    expect(await admin.next((f) => f.type === "notification", "the admins frame")).toEqual(frame);
    await Promise.all([donorSocket.barrier(), anon.barrier()]);
    expect(donorSocket.of("notification")).toHaveLength(0);
    expect(anon.of("notification")).toHaveLength(0);
  });

  test("support rooms: their user and admins join, the room's messages reach both", async () => {
    const user = donor("u");
    const room = `support:${user.id}`;
    const own = await gw.connect(await gw.sign(user));
    const admin = await gw.connect(await gw.sign(TEST_ADMIN));
    own.send({ op: "join", room });
    admin.send({ op: "join", room });
    await Promise.all([own.barrier(), admin.barrier()]);
    expect([...own.of("error"), ...admin.of("error")]).toEqual([]);
    const message = { type: "chat.message", id: "m1", room, userId: user.id, name: "u", text: "help", at: "x" };
    gw.fanout.publish(`chat.${room}`, message);
    await own.next((f) => f.type === "chat.message", "the user's support message");
    await admin.next((f) => f.type === "chat.message", "the admin's copy");
  });

  test("one fan-out listener per topic: 50 sockets following one campaign, one subscription, every socket gets each frame once", async () => {
    const c = gw.campaign();
    const topic = `campaign.${c.id}`;
    const sockets = await Promise.all(Array.from({ length: 50 }, () => gw.connect()));
    for (const s of sockets) s.send({ op: "follow", campaignId: c.id });
    await Promise.all(sockets.map((s) => s.next((f) => f.type === "campaign.totals", "the first totals")));
    expect(gw.counted.subscribes.get(topic)).toBe(1);
    const pushed = { type: "campaign.totals", campaignId: c.id, raisedMinor: 777, donorCount: 1, pledgeCount: 1 };
    gw.fanout.publish(topic, pushed);
    await Promise.all(sockets.map((s) => s.next((f) => f.raisedMinor === 777, "the pushed totals")));
    await Promise.all(sockets.map((s) => s.barrier()));
    for (const s of sockets) expect(s.of("campaign.totals")).toHaveLength(2);
    expect(await gw.metricsText()).toMatch(
      /careforall_gateway_ws_frames_out_total\{[^}]*type="campaign.totals"[^}]*\} (\d+)/,
    );
    // The last one to leave gives the subscription back (unfollow or close alike).
    for (const s of sockets.slice(0, 25)) s.send({ op: "unfollow", campaignId: c.id });
    await Promise.all(sockets.slice(0, 25).map((s) => s.barrier()));
    expect(gw.counted.unsubscribes.get(topic)).toBeUndefined();
    for (const s of sockets.slice(25)) s.close();
    await waitFor(() => gw.counted.unsubscribes.get(topic) === 1, { what: "the topic given back" });
    expect(gw.counted.subscribes.get(topic)).toBe(1);
  });
});

describe("say and pledges", () => {
  test("say goes to the chat service with the user's bearer; its refusals become error frames", async () => {
    const gw = await startRealtimeGateway();
    try {
      const user = donor("sayer");
      const token = await gw.sign(user);
      const s = await gw.connect(token);
      const room = `campaign:${gw.campaign().id}`;
      s.send({ op: "say", room, text: "Is the well finished?", clientId: "opt-1" });
      await s.barrier();
      expect(gw.calls.say).toEqual([{ room, text: "Is the well finished?", clientId: "opt-1", bearer: token }]);
      expect(s.of("error")).toEqual([]);
      for (const [status, code] of [
        [429, "rate_limited"],
        [401, "unauthorized"],
        [404, "forbidden"],
        [503, "unavailable"],
        [0, "unavailable"],
      ] as const) {
        gw.upstream.sayStatus = status;
        s.send({ op: "say", room, text: "again" });
        expect(await s.next((f) => f.type === "error", `the error for ${status}`, s.of("error").length + 1)).toEqual({
          type: "error",
          code,
          message: expect.any(String),
        });
      }
    } finally {
      await gw.stop();
    }
  });

  test("a guest follows its own pledge with the receipt token once the pledge service agrees; else not_found", async () => {
    const gw = await startRealtimeGateway();
    try {
      const s = await gw.connect();
      const pledgeId = Bun.randomUUIDv7();
      s.send({ op: "follow", pledgeId });
      await s.next(isError("unauthorized"), "a pledge follow without receipt token");
      s.send({ op: "follow", pledgeId, receiptToken: "rcpt_1" });
      await s.barrier();
      expect(gw.calls.pledge).toEqual([{ pledgeId, receiptToken: "rcpt_1" }]);
      const frame = { type: "pledge.status", pledgeId, campaignId: "c", status: "authorized", failureReason: null };
      gw.fanout.publish(`pledge.${pledgeId}`, frame);
      expect(await s.next((f) => f.type === "pledge.status", "the pledge's status")).toEqual(frame);
      gw.upstream.pledgeStatus = 404;
      s.send({ op: "follow", pledgeId: Bun.randomUUIDv7(), receiptToken: "wrong" });
      await s.next(isError("not_found"), "not_found for a wrong receipt token");
    } finally {
      await gw.stop();
    }
  });
});

describe("backpressure", () => {
  test("a reader that stops reading is closed once 64 KiB are queued for it, never buffered without bound", async () => {
    const gw = await startRealtimeGateway({ config: { WS_BACKPRESSURE_LIMIT_BYTES: 64 * 1024 } });
    try {
      const user = donor("slow");
      const token = await gw.sign(user);
      // A raw TCP client: the handshake, then it never reads again (the kernel buffers fill first).
      const tcp = tcpConnect(gw.port, "127.0.0.1");
      await new Promise((resolve) => tcp.once("connect", resolve));
      tcp.write(
        `GET /api/ws?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      const head = await new Promise<string>((resolve) => tcp.once("data", (d) => resolve(String(d))));
      expect(head).toStartWith("HTTP/1.1 101");
      tcp.pause();
      const frame = JSON.stringify({
        type: "notification",
        id: "n",
        kind: "k",
        title: "t",
        body: "x".repeat(8_000),
        at: "x",
      });
      // Up to 400 MB offered; the socket must be closed long before.
      let published = 0;
      await waitFor(
        async () => {
          for (let i = 0; i < 500; i++) gw.fanout.publish(`user.${user.id}`, frame);
          published += 500;
          await gw.fanout.flush();
          const text = await gw.metricsText();
          return /careforall_gateway_ws_open_sockets\{[^}]*\} 0/.test(text) || published > 50_000;
        },
        { what: "the slow reader closed", timeoutMs: 20_000 },
      );
      expect(await gw.metricsText()).toMatch(/careforall_gateway_ws_open_sockets\{[^}]*\} 0/);
      tcp.destroy();
    } finally {
      await gw.stop();
    }
  });
});

describe("idle sockets", () => {
  test("a client that answers Bun's pings stays; one that never answers is closed after the idle timeout", async () => {
    const gw = await startRealtimeGateway({ config: { WS_IDLE_TIMEOUT_SECONDS: 5 } });
    try {
      const alive = await gw.connect();
      const tcp = tcpConnect(gw.port, "127.0.0.1");
      await new Promise((resolve) => tcp.once("connect", resolve));
      tcp.write(
        "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      // Reads (so nothing backs up) but never answers a ping: silent for good.
      let ended = false;
      tcp.on("data", () => {});
      tcp.on("close", () => {
        ended = true;
      });
      const started = Date.now();
      await waitFor(() => ended, { what: "the silent client closed", timeoutMs: 20_000, intervalMs: 50 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
      // As long silent on its side, but its WebSocket answered the pings.
      await alive.barrier();
      expect(alive.closed).toBeNull();
      tcp.destroy();
    } finally {
      await gw.stop();
    }
  }, 30_000);
});

describe("stopping", () => {
  test("a graceful stop closes every socket with 1001 and completes (Bun's stop would wait for them)", async () => {
    const gw = await startRealtimeGateway();
    const c = gw.campaign();
    const signedIn = await gw.connect(await gw.sign(donor("leaving")));
    const anon = await gw.connect();
    anon.send({ op: "follow", campaignId: c.id });
    await Promise.all([signedIn.barrier(), anon.barrier()]);
    const stopped = await Promise.race([
      gw.app.stop(false).then(() => "stopped"),
      Bun.sleep(5_000).then(() => "still waiting"),
    ]);
    expect(stopped).toBe("stopped");
    for (const s of [signedIn, anon]) expect((await s.waitClosed()).code).toBe(1001);
    expect(gw.fanout.topics()).toBe(0);
    await gw.fanout.close();
  });
});

describe("hostile frames", () => {
  test("generated frames — any JSON, ops with wrong or extra fields — never close the socket nor fail a handler", async () => {
    const gw = await startRealtimeGateway({ config: { WS_FRAMES_PER_SECOND: 1000, WS_FRAME_BURST: 1000 } });
    try {
      const socket = await gw.connect(await gw.sign(donor("fuzz")));
      const op = fc.constantFrom("follow", "unfollow", "join", "leave", "say", "ping", "FOLLOW", "", "__proto__");
      const frame = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string(),
        fc
          .record(
            {
              op,
              campaignId: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
              pledgeId: fc.oneof(fc.uuid(), fc.constant(null)),
              receiptToken: fc.string(),
              room: fc.oneof(
                fc.string(),
                fc.uuid().map((id) => `campaign:${id}`),
                fc.uuid().map((id) => `support:${id}`),
              ),
              text: fc.oneof(fc.string(), fc.integer()),
              clientId: fc.oneof(fc.string({ maxLength: 80 }), fc.constant(null)),
            },
            { requiredKeys: [] },
          )
          .map((v) => JSON.stringify(v)),
      );
      const frames = fc.sample(frame, { numRuns: 300, seed: 42 });
      for (const f of frames) socket.send(f);
      await socket.barrier();
      expect(socket.closed).toBeNull();
      // Every frame got its answer in order: nothing failed inside (that would be an `unavailable`).
      expect(socket.of("error").filter((f) => f.code === "unavailable")).toEqual([]);
      expect(await gw.metricsText()).toMatch(
        /careforall_gateway_ws_error_frames_total\{[^}]*code="invalid_frame"[^}]*\} \d+/,
      );
    } finally {
      await gw.stop();
    }
  });
});
