// The ws-fanout scenario's socket load, run as its own `bun` process (spawned by ws-fleet.ts) so
// receiving frames never competes with the harness's event loop. It opens WS_SOCKETS anonymous
// sockets spread over WS_URLS, each follows WS_CAMPAIGN_ID; then it keeps, per socket, the first
// receipt time of each distinct `raisedMinor` seen in a campaign.totals frame. Frames are read with
// a prefix check and an indexOf, never JSON.parse: the client must not be the bottleneck.
// Protocol: one `READY {json}` line on stdout once every socket has its first totals frame; a
// `have <raisedMinor>` line on stdin is answered `HAVE <sockets that saw it>`; on a `stop` line it
// writes the figures to WS_OUT and prints `DONE`.
import { writeFileSync } from "node:fs";

const urls = (process.env.WS_URLS ?? "").split(",").filter(Boolean);
const total = Number(process.env.WS_SOCKETS ?? "0");
const campaignId = process.env.WS_CAMPAIGN_ID ?? "";
const outFile = process.env.WS_OUT ?? "";
/** Sockets opening at once (a burst of thousands of upgrades at once only measures the backlog). */
const OPEN_CONCURRENCY = Number(process.env.WS_OPEN_CONCURRENCY ?? "100");
if (urls.length === 0 || !Number.isInteger(total) || total < 1 || !campaignId || !outFile) {
  console.error("ws-clients: WS_URLS, WS_SOCKETS, WS_CAMPAIGN_ID and WS_OUT are required");
  process.exit(2);
}

/** Wall-clock milliseconds with sub-millisecond precision (the same clock as the services' `at`). */
const now = () => performance.timeOrigin + performance.now();

const TOTALS_PREFIX = '{"type":"campaign.totals"';
const RAISED = '"raisedMinor":';

/** raisedMinor of a campaign.totals frame, or -1 for any other frame. */
function raisedOf(text: string): number {
  if (!text.startsWith(TOTALS_PREFIX)) return -1;
  const at = text.indexOf(RAISED);
  if (at < 0) return -1;
  let n = 0;
  for (let i = at + RAISED.length; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return n;
}

interface Client {
  ws: WebSocket;
  gateway: number;
  /** raisedMinor → first receipt time on this socket. */
  seen: Map<number, number>;
  frames: number;
  otherFrames: number;
  closed: { code: number; at: number } | null;
}

const clients: Client[] = [];
let followed = 0;
const openStarted = now();

function open(i: number): Promise<void> {
  const gateway = i % urls.length;
  const ws = new WebSocket(`${urls[gateway]}/api/ws`);
  const client: Client = { ws, gateway, seen: new Map(), frames: 0, otherFrames: 0, closed: null };
  clients[i] = client;
  return new Promise((resolve, reject) => {
    let first = true;
    ws.onopen = () => ws.send(`{"op":"follow","campaignId":"${campaignId}"}`);
    ws.onmessage = (e) => {
      const t = now();
      const raised = raisedOf(e.data as string);
      if (raised < 0) {
        client.otherFrames++;
        if (first) reject(new Error(`socket ${i}: ${String(e.data).slice(0, 200)}`));
        return;
      }
      client.frames++;
      if (!client.seen.has(raised)) client.seen.set(raised, t);
      if (first) {
        first = false;
        followed++;
        resolve();
      }
    };
    ws.onclose = (e) => {
      client.closed = { code: e.code, at: now() };
      if (first) reject(new Error(`socket ${i} closed (${e.code}) before its first totals frame`));
    };
    ws.onerror = () => {
      if (first) reject(new Error(`socket ${i}: connection error`));
    };
  });
}

// Event-loop lag: how late a 10 ms timer fires says whether this process keeps up with its frames.
const lags: number[] = [];
let lastTick = now();
const lagTimer = setInterval(() => {
  const t = now();
  lags.push(Math.max(0, t - lastTick - 10));
  lastTick = t;
}, 10);

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(OPEN_CONCURRENCY, total) }, async () => {
    while (next < total) await open(next++);
  }),
);
const cpuAtReady = process.cpuUsage();
const readyAt = now();
lags.length = 0;
console.log(`READY ${JSON.stringify({ sockets: followed, openMs: readyAt - openStarted, pid: process.pid })}`);

function finish(): void {
  clearInterval(lagTimer);
  const cpu = process.cpuUsage(cpuAtReady);
  const wallMs = now() - readyAt;
  // Every distinct value any socket saw, and per socket its first receipt time (null: never).
  const values = [...new Set(clients.flatMap((c) => [...c.seen.keys()]))].sort((a, b) => a - b);
  const times = values.map((v) => clients.map((c) => c.seen.get(v) ?? null));
  const sortedLags = lags.sort((a, b) => a - b);
  const pick = (p: number) =>
    sortedLags[Math.min(sortedLags.length - 1, Math.floor((p / 100) * sortedLags.length))] ?? 0;
  writeFileSync(
    outFile,
    JSON.stringify({
      sockets: clients.length,
      gatewayOf: clients.map((c) => c.gateway),
      values,
      times,
      frames: clients.reduce((n, c) => n + c.frames, 0),
      otherFrames: clients.reduce((n, c) => n + c.otherFrames, 0),
      closed: clients.filter((c) => c.closed).map((c, i) => ({ socket: i, ...c.closed })),
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs,
      lagMs: { p50: pick(50), p99: pick(99), max: sortedLags.at(-1) ?? 0 },
    }),
  );
  for (const c of clients) c.ws.close();
  console.log("DONE");
}

for await (const line of console) {
  const command = line.trim();
  if (command === "stop") break;
  // `have <raisedMinor>`: how many sockets have seen that total (the harness waits for the final one).
  if (command.startsWith("have ")) {
    const value = Number(command.slice(5));
    console.log(`HAVE ${clients.filter((c) => c.seen.has(value)).length}`);
  }
}
finish();
process.exit(0);
