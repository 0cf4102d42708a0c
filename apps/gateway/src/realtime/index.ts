// GET /api/ws: the real-time edge on Bun's native WebSockets (Elysia .ws). The upgrade is
// authenticated with ?token= exactly as a bearer token (a present but bad one is a 401 problem; none
// is an anonymous socket, which may only follow). Each frame is rate limited, validated, and run in
// order per socket; follows and rooms become Bun topics fed by one fan-out listener per topic
// (topics.ts). Sockets themselves never talk to NATS.
import type { Fanout } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { type HttpMetrics, mintRequestId, type Principal, type TokenVerifier } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { ServerWebSocket } from "bun";
import { Elysia } from "elysia";
import { decodeJwt } from "jose";
import { createFrameBudget, type FrameBudget, type FrameBudgetOptions } from "../domain/frame-budget";
import { mayJoin, parseRoom } from "../domain/rooms";
import type { SnapshotStore } from "../snapshots";
import { readFrame } from "./frames";
import { type CloseReason, closeReason, realtimeMetrics } from "./metrics";
import type { RealtimeModel } from "./model";
import { createTopicHub, type TopicHub } from "./topics";

/** API.md: a frame over 16 KiB closes the socket (1009, Bun's maxPayloadLength). */
export const MAX_FRAME_BYTES = 16 * 1024;
/** Frames of one socket waiting for their turn (a slow upstream must not queue without bound). */
const MAX_PENDING_FRAMES = 64;
/** Close code when the access token a socket signed in with expires (an application code, 4000–4999). */
export const CLOSE_TOKEN_EXPIRED = 4401;
/** setTimeout's longest delay (~24 days): far beyond an access token's 15 minutes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The HTTP status an upstream answered, 0 when it could not be reached. */
export type UpstreamStatus = number;

/** What the socket asks other services (Eden clients in app.ts; fakes in unit tests). */
export interface RealtimeUpstreams {
  /** Posts a chat message as the bearer's user (the chat service publishes it to the room). */
  say(
    message: { room: string; text: string; clientId?: string },
    bearer: string,
    requestId: string,
  ): Promise<UpstreamStatus>;
  /** Whether the pledge is visible to the receipt token's holder or the bearer (the public read's rule). */
  pledgeVisible(
    pledgeId: string,
    receiptToken: string | undefined,
    bearer: string | undefined,
    requestId: string,
  ): Promise<UpstreamStatus>;
}

export interface RealtimeLimits extends FrameBudgetOptions {
  /** Campaigns and pledges one socket may follow at once. */
  maxFollows: number;
  /** Rooms one socket may be in at once. */
  maxRooms: number;
}

export const DEFAULT_LIMITS: RealtimeLimits = {
  perSecond: 20,
  burst: 40,
  abuseFactor: 3,
  abuseWindowSeconds: 3,
  maxFollows: 100,
  maxRooms: 20,
};

/** Bun's per-server WebSocket settings (the root app's `websocket` config). */
export interface SocketSettings {
  /** Seconds without traffic before a socket is closed; Bun pings idle sockets before that. */
  idleTimeoutSeconds: number;
  /** Bytes queued for one slow reader before it is closed instead of buffered further. */
  backpressureLimitBytes: number;
}

export function websocketOptions(settings: SocketSettings) {
  return {
    maxPayloadLength: MAX_FRAME_BYTES,
    backpressureLimit: settings.backpressureLimitBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: settings.idleTimeoutSeconds,
    sendPings: true,
    perMessageDeflate: false,
  };
}

export interface RealtimeDeps {
  verifier: TokenVerifier;
  fanout: Fanout;
  snapshots: Pick<SnapshotStore, "read">;
  upstreams: RealtimeUpstreams;
  /** server.publish of the listening server (read when a frame arrives: the app listens after it is built). */
  publish: (topic: string, json: string) => number;
  limits?: Partial<RealtimeLimits>;
  clock: Clock;
  log: Logger;
  metrics: HttpMetrics;
}

/** One socket's state, kept beside its Bun data. */
interface Session {
  principal: Principal | null;
  /** The access token it connected with, forwarded as the user's bearer when it says something. */
  token: string | null;
  budget: FrameBudget;
  /** Fan-out topics followed (campaign.<id>, pledge.<id>) and rooms joined (chat.<room>). */
  follows: Set<string>;
  rooms: Set<string>;
  /** Topics of its own (user.<id>, admins), held for the socket's life. */
  own: string[];
  /** Frames run in arrival order: each waits for the one before (a pong follows what came first). */
  queue: Promise<void>;
  pending: number;
  /** Set when the gateway itself closes it. */
  closedBy: CloseReason | null;
  /** Closes it when its access token expires. */
  expiry: ReturnType<typeof setTimeout> | undefined;
}

type Socket = ServerWebSocket<unknown>;

const campaignTopic = (id: string) => `campaign.${id}`;
const pledgeTopic = (id: string) => `pledge.${id}`;
const roomTopic = (room: string) => `chat.${room}`;

/** What the socket is told for each upstream refusal of a `say`. */
function sayRefusal(status: UpstreamStatus): [RealtimeModel.ErrorCode, string] {
  if (status === 429) return ["rate_limited", "Too many messages; wait a little"];
  if (status === 401) return ["unauthorized", "Your session is no longer valid; sign in again"];
  if (status === 403 || status === 404) return ["forbidden", "You may not post in this room"];
  if (status === 400 || status === 422) return ["invalid_frame", "The chat service refused this message"];
  return ["unavailable", "Chat is unavailable; try again shortly"];
}

/**
 * The /api/ws route and `closeAll`: Bun's graceful stop waits for every WebSocket to close, so the
 * server's stop must first tell them to go (1001) — clients reconnect to another replica.
 */
export function createRealtime(deps: RealtimeDeps) {
  const { verifier, fanout, snapshots, upstreams, clock, log } = deps;
  const limits: RealtimeLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const sessions = new WeakMap<object, Session>();
  /** Every open socket: for the gauge, and to close them all when the server stops. */
  const sockets = new Set<Socket>();
  const hub: TopicHub = createTopicHub(
    fanout,
    (topic, json) => deps.publish(topic, json),
    (topic, json) => metrics.fanoutOut(topic, hub.holders(topic), json),
  );
  const metrics = realtimeMetrics(deps.metrics, { sockets: () => sockets.size, topics: () => hub.size() });

  function send(ws: Socket, frame: { type: string }): void {
    ws.send(JSON.stringify(frame));
    metrics.frameOut(frame.type);
  }

  function refuse(ws: Socket, code: RealtimeModel.ErrorCode, message: string): void {
    const frame: RealtimeModel.ErrorFrame = { type: "error", code, message };
    ws.send(JSON.stringify(frame));
    metrics.error(code);
  }

  /**
   * The fan-out listener first: if it cannot be had, the socket holds nothing it would give back.
   * Resolves once the subscription is in force (see TopicHub.acquire); the frame that took it is
   * answered after that, so a client's barrier (ping → pong) means "subscribed".
   */
  function hold(ws: Socket, topic: string): Promise<void> {
    const ready = hub.acquire(topic);
    ws.subscribe(topic);
    return ready;
  }

  function drop(ws: Socket, topic: string): void {
    ws.unsubscribe(topic);
    hub.release(topic);
  }

  async function followCampaign(ws: Socket, session: Session, campaignId: string, requestId: string) {
    const id = campaignId.toLowerCase();
    const topic = campaignTopic(id);
    if (!session.follows.has(topic) && session.follows.size >= limits.maxFollows)
      return refuse(ws, "too_many_follows", `At most ${limits.maxFollows} follows per connection`);
    let body: string | null;
    try {
      body = await snapshots.read(id, requestId);
    } catch (err) {
      log.warn({ err, campaignId: id }, "ws.snapshot_unavailable");
      return refuse(ws, "unavailable", "Campaigns are unavailable; try again shortly");
    }
    if (body === null) return refuse(ws, "not_found", "No such campaign");
    if (ws.readyState !== WebSocket.OPEN) return;
    // Subscribed before the current totals are sent: a change from now on is not missed (it may
    // arrive just before the snapshot it supersedes; totals frames carry whole figures, not deltas).
    if (!session.follows.has(topic)) {
      session.follows.add(topic);
      await hold(ws, topic);
    }
    const snapshot = JSON.parse(body) as { raisedMinor: number; donorCount: number; pledgeCount: number };
    const totals: RealtimeModel.CampaignTotals = {
      type: "campaign.totals",
      campaignId: id,
      raisedMinor: snapshot.raisedMinor,
      donorCount: snapshot.donorCount,
      pledgeCount: snapshot.pledgeCount,
    };
    send(ws, totals);
  }

  async function followPledge(ws: Socket, session: Session, frame: RealtimeModel.FollowPledge, requestId: string) {
    const id = frame.pledgeId.toLowerCase();
    const topic = pledgeTopic(id);
    if (session.follows.has(topic)) return;
    if (session.follows.size >= limits.maxFollows)
      return refuse(ws, "too_many_follows", `At most ${limits.maxFollows} follows per connection`);
    if (!frame.receiptToken && !session.token)
      return refuse(ws, "unauthorized", "Following a pledge takes its receiptToken, or signing in as its donor");
    const status = await upstreams.pledgeVisible(id, frame.receiptToken, session.token ?? undefined, requestId);
    if (status === 401) return refuse(ws, "unauthorized", "Your session is no longer valid; sign in again");
    if (status === 400 || status === 403 || status === 404) return refuse(ws, "not_found", "No such pledge");
    if (status !== 200) return refuse(ws, "unavailable", "Pledges are unavailable; try again shortly");
    if (ws.readyState !== WebSocket.OPEN || session.follows.has(topic)) return;
    session.follows.add(topic);
    await hold(ws, topic);
  }

  function unfollow(ws: Socket, session: Session, topic: string) {
    if (session.follows.delete(topic)) drop(ws, topic);
  }

  async function join(ws: Socket, session: Session, name: string, requestId: string) {
    const room = parseRoom(name);
    if (!room) return refuse(ws, "forbidden", "Rooms are campaign:<campaignId> or support:<userId>");
    if (!mayJoin(room, session.principal))
      return refuse(ws, "forbidden", "Support rooms are for their user and the administrators");
    const topic = roomTopic(room.name);
    if (session.rooms.has(topic)) return;
    if (session.rooms.size >= limits.maxRooms)
      return refuse(ws, "too_many_rooms", `At most ${limits.maxRooms} rooms per connection`);
    if (room.kind === "campaign") {
      let body: string | null;
      try {
        body = await snapshots.read(room.id, requestId);
      } catch (err) {
        log.warn({ err, campaignId: room.id }, "ws.snapshot_unavailable");
        return refuse(ws, "unavailable", "Campaigns are unavailable; try again shortly");
      }
      if (body === null) return refuse(ws, "not_found", "No such campaign");
    }
    if (ws.readyState !== WebSocket.OPEN || session.rooms.has(topic)) return;
    session.rooms.add(topic);
    await hold(ws, topic);
  }

  function leave(ws: Socket, session: Session, name: string) {
    const room = parseRoom(name);
    if (room && session.rooms.delete(roomTopic(room.name))) drop(ws, roomTopic(room.name));
  }

  async function say(ws: Socket, session: Session, frame: RealtimeModel.Say, requestId: string) {
    if (!session.principal || !session.token) return refuse(ws, "unauthorized", "Sign in to post messages");
    const room = parseRoom(frame.room);
    if (!room) return refuse(ws, "forbidden", "Rooms are campaign:<campaignId> or support:<userId>");
    if (!mayJoin(room, session.principal))
      return refuse(ws, "forbidden", "Support rooms are for their user and the administrators");
    const message = { room: room.name, text: frame.text, ...(frame.clientId ? { clientId: frame.clientId } : {}) };
    const status = await upstreams.say(message, session.token, requestId);
    // The message itself comes back through the room's fan-out, to the sender's sockets too.
    if (status === 200 || status === 201) return;
    const [code, text] = sayRefusal(status);
    refuse(ws, code, text);
  }

  async function run(ws: Socket, session: Session, frame: RealtimeModel.ClientFrame): Promise<void> {
    const requestId = mintRequestId();
    switch (frame.op) {
      case "ping":
        return send(ws, { type: "pong" });
      case "follow":
        return "pledgeId" in frame
          ? followPledge(ws, session, frame, requestId)
          : followCampaign(ws, session, frame.campaignId, requestId);
      case "unfollow":
        return unfollow(
          ws,
          session,
          "pledgeId" in frame
            ? pledgeTopic(frame.pledgeId.toLowerCase())
            : campaignTopic(frame.campaignId.toLowerCase()),
        );
      case "join":
        return join(ws, session, frame.room, requestId);
      case "leave":
        return leave(ws, session, frame.room);
      case "say":
        return say(ws, session, frame, requestId);
    }
  }

  function close(ws: Socket, session: Session, code: number, reason: CloseReason, text: string) {
    session.closedBy = reason;
    ws.close(code, text);
  }

  const routes = new Elysia({ name: "gateway-realtime" })
    // Elysia routes only upgrade requests here (a plain GET is a 404 problem like any unknown route).
    .resolve(async ({ query }) => {
      const token = (query as Record<string, string | undefined>).token;
      // No token: an anonymous socket. A token, even an empty one, must be valid (else 401), and
      // is checked as every bearer token is: signature, issuer, expiry, the ended-sessions list
      // (a read: while that list is unreachable the token is let through, as for GET requests).
      if (token === undefined) return { principal: null as Principal | null, token: null as string | null };
      const principal = await verifier.verify(token, { whenDenylistUnavailable: "allow" });
      return { principal: principal as Principal | null, token: token as string | null };
    })
    .ws("/api/ws", {
      open(ws) {
        const { principal, token } = ws.data;
        const raw = ws.raw as Socket;
        const own = principal ? [`user.${principal.id}`, ...(principal.role === "admin" ? ["admins"] : [])] : [];
        const session: Session = {
          principal,
          token,
          budget: createFrameBudget(limits, clock.now()),
          follows: new Set(),
          rooms: new Set(),
          own,
          queue: Promise.resolve(),
          pending: 0,
          closedBy: null,
          expiry: undefined,
        };
        sessions.set(raw.data as object, session);
        sockets.add(raw);
        // The socket's first frame is answered once its own topics are in force (frames run in order).
        session.queue = Promise.all(own.map((topic) => hold(raw, topic))).then(() => {});
        // A signed-in socket lives as long as its access token: then it is closed (4401) and the
        // client reconnects with a fresh one — so a session ended since cannot keep listening.
        const exp = token ? decodeJwt(token).exp : undefined;
        if (exp !== undefined)
          session.expiry = setTimeout(
            () => close(raw, session, CLOSE_TOKEN_EXPIRED, "token_expired", "The access token expired"),
            Math.min(MAX_TIMER_MS, Math.max(0, exp * 1000 - clock.now())),
          );
      },
      message(ws, message) {
        const raw = ws.raw as Socket;
        const session = sessions.get(raw.data as object);
        if (!session || session.closedBy) return;
        const verdict = session.budget.take(clock.now());
        if (verdict === "abuse") {
          metrics.frameIn("rate_limited");
          log.warn({ userId: session.principal?.id, remote: raw.remoteAddress }, "ws.closed_for_abuse");
          return close(raw, session, 1008, "rate_abuse", "Too many frames");
        }
        if (verdict === "rate_limited" || session.pending >= MAX_PENDING_FRAMES) {
          metrics.frameIn("rate_limited");
          return refuse(raw, "rate_limited", "Too many frames; slow down");
        }
        const reading = readFrame(message);
        if (!reading.ok) {
          metrics.frameIn(reading.op ?? "invalid");
          return refuse(raw, reading.code, reading.message);
        }
        const frame = reading.frame;
        metrics.frameIn(frame.op);
        session.pending++;
        session.queue = session.queue
          .then(() => (session.closedBy || raw.readyState !== WebSocket.OPEN ? undefined : run(raw, session, frame)))
          .catch((err) => {
            log.error({ err, op: frame.op }, "ws.frame_failed");
            if (raw.readyState === WebSocket.OPEN) refuse(raw, "unavailable", "That could not be done; try again");
          })
          .finally(() => {
            session.pending--;
          });
      },
      close(ws, code, reason) {
        const raw = ws.raw as Socket;
        const session = sessions.get(raw.data as object);
        if (!session) return;
        sessions.delete(raw.data as object);
        sockets.delete(raw);
        clearTimeout(session.expiry);
        // Bun drops a closed socket's topics itself; the fan-out listeners are ours to give back.
        for (const topic of [...session.own, ...session.follows, ...session.rooms]) hub.release(topic);
        metrics.close(closeReason(code, reason, session.closedBy));
      },
    });

  return {
    routes,
    /** Closes every socket with 1001 (going away); run before the server's graceful stop. */
    closeAll(): void {
      for (const socket of sockets) {
        const session = sessions.get(socket.data as object);
        if (session) session.closedBy = "going_away";
        socket.close(1001, "The server is going away; reconnect");
      }
    },
    /** Open sockets (tests, diagnostics). */
    sockets: () => sockets.size,
  };
}
