// One WebSocket per tab (GET /api/ws). Pages follow campaigns and pledges through it; what is followed
// is counted per key, so two components on one campaign share a follow. The socket reconnects with
// exponential backoff and full jitter (a restarted gateway is not stampeded), signs in with a fresh
// access token each time (a 4401 close means the token expired), re-follows everything, and tells
// pages it reconnected: the feed is live, not a log, so they re-read what they show.

export type ServerFrame =
  | { type: "campaign.totals"; campaignId: string; raisedMinor: number; donorCount: number; pledgeCount: number }
  | { type: "pledge.status"; pledgeId: string; campaignId: string; status: string; failureReason: string | null }
  | {
      type: "chat.message";
      id: string;
      room: string;
      userId: string;
      name: string;
      text: string;
      at: string;
      clientId?: string;
    }
  | {
      type: "notification";
      id: string;
      kind: string;
      title: string;
      body: string;
      at: string;
      pledgeId?: string;
      campaignId?: string;
    }
  | { type: "error"; code: string; message: string }
  | { type: "pong" };

type Follow =
  | { op: "follow"; campaignId: string }
  | { op: "follow"; pledgeId: string; receiptToken?: string }
  | { op: "join"; room: string };

interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export interface RealtimeDeps {
  /** ws://host/api/ws */
  url: string;
  /** The access token to connect with (null: anonymous). */
  token: () => Promise<string | null>;
  connect?: (url: string) => SocketLike;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type Status = "idle" | "connecting" | "open" | "waiting";

const OPEN = 1;

export function createRealtime(deps: RealtimeDeps) {
  const connect = deps.connect ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
  const random = deps.random ?? Math.random;
  const later = deps.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
  const cancel = deps.clearTimeout ?? ((h) => globalThis.clearTimeout(h as number));
  const base = deps.baseDelayMs ?? 500;
  const max = deps.maxDelayMs ?? 15_000;

  const follows = new Map<string, { frame: Follow; count: number }>();
  const handlers = new Set<(frame: ServerFrame) => void>();
  const reconnectHandlers = new Set<() => void>();
  let socket: SocketLike | null = null;
  let status: Status = "idle";
  let attempt = 0;
  let timer: unknown = null;
  let everOpened = false;
  let generation = 0;

  const sendFrame = (frame: object) => {
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(frame));
  };

  /** Full jitter: a random wait in [0, min(max, base·2^attempt)]. */
  const delay = () => Math.round(random() * Math.min(max, base * 2 ** attempt));

  async function open(): Promise<void> {
    const mine = ++generation;
    status = "connecting";
    const token = await deps.token().catch(() => null);
    if (mine !== generation) return;
    const ws = connect(token ? `${deps.url}?token=${encodeURIComponent(token)}` : deps.url);
    socket = ws;
    ws.onopen = () => {
      status = "open";
      attempt = 0;
      for (const { frame } of follows.values()) ws.send(JSON.stringify(frame));
      if (everOpened) for (const fn of reconnectHandlers) fn();
      everOpened = true;
    };
    ws.onmessage = (ev) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      for (const fn of handlers) fn(frame);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      if (follows.size === 0 && !keepOpen) {
        status = "idle";
        return;
      }
      status = "waiting";
      timer = later(() => {
        timer = null;
        void open();
      }, delay());
      attempt++;
    };
  }

  let keepOpen = false;

  function ensureOpen(): void {
    if (status === "idle") void open();
  }

  function key(frame: Follow): string {
    return "room" in frame
      ? `r:${frame.room}`
      : "campaignId" in frame
        ? `c:${frame.campaignId}`
        : `p:${frame.pledgeId}`;
  }

  function add(frame: Follow): () => void {
    const k = key(frame);
    const entry = follows.get(k);
    if (entry) entry.count++;
    else {
      follows.set(k, { frame, count: 1 });
      sendFrame(frame);
    }
    ensureOpen();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const e = follows.get(k);
      if (!e) return;
      if (--e.count > 0) return;
      follows.delete(k);
      sendFrame(
        "room" in frame
          ? { op: "leave", room: frame.room }
          : "campaignId" in frame
            ? { op: "unfollow", campaignId: frame.campaignId }
            : { op: "unfollow", pledgeId: frame.pledgeId },
      );
    };
  }

  return {
    status: () => status,
    followCampaign: (campaignId: string) => add({ op: "follow", campaignId }),
    followPledge: (pledgeId: string, receiptToken?: string) =>
      add(receiptToken ? { op: "follow", pledgeId, receiptToken } : { op: "follow", pledgeId }),
    /** A chat room, joined (and re-joined after a reconnect) like a follow; the returned function leaves. */
    joinRoom: (room: string) => add({ op: "join", room }),
    /** Posts to a joined room; false when the socket is not open (the caller keeps the message unsent). */
    say(room: string, text: string, clientId: string): boolean {
      if (!socket || socket.readyState !== OPEN) return false;
      socket.send(JSON.stringify({ op: "say", room, text, clientId }));
      return true;
    },
    on(fn: (frame: ServerFrame) => void): () => void {
      handlers.add(fn);
      return () => handlers.delete(fn);
    },
    /** Called after every reconnect (not the first open): re-read what the page shows. */
    onReconnect(fn: () => void): () => void {
      reconnectHandlers.add(fn);
      return () => reconnectHandlers.delete(fn);
    },
    /** Stay connected with no follows (a signed-in user gets their own pushes unasked). */
    keepAlive(on: boolean): void {
      keepOpen = on;
      if (on) ensureOpen();
    },
    /** The signed-in user changed: connect again at once with the new token (follows are re-sent). */
    reconnectNow(): void {
      if (timer !== null) cancel(timer);
      timer = null;
      attempt = 0;
      const old = socket;
      socket = null;
      old?.close(1000);
      if (follows.size > 0 || keepOpen) void open();
      else status = "idle";
    },
    close(): void {
      generation++;
      if (timer !== null) cancel(timer);
      follows.clear();
      keepOpen = false;
      const old = socket;
      socket = null;
      status = "idle";
      old?.close(1000);
    },
  };
}

export type Realtime = ReturnType<typeof createRealtime>;
