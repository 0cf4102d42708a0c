// Drives ws-clients.ts (the ws-fanout scenario's sockets) as child `bun` processes: start them,
// wait until every socket follows the campaign, then stop them and read back what each socket saw.
// Several processes split the sockets when one event loop would be the bottleneck.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processStopper } from "./process";

/** What one ws-clients process wrote (see ws-clients.ts). */
export interface FleetPart {
  sockets: number;
  gatewayOf: number[];
  values: number[];
  times: Array<Array<number | null>>;
  frames: number;
  otherFrames: number;
  closed: Array<{ socket: number; code: number; at: number }>;
  cpuMs: number;
  wallMs: number;
  lagMs: { p50: number; p99: number; max: number };
}

/** Every socket of every process, merged: `seen[s]` maps raisedMinor → first receipt time on socket s. */
export interface FleetResult {
  sockets: number;
  gatewayOf: number[];
  seen: Array<Map<number, number>>;
  frames: number;
  otherFrames: number;
  closed: number;
  /** Per process: CPU used while measuring / wall time (1.0 = one whole core), and timer lag. */
  processes: Array<{ sockets: number; cpuShare: number; lagMs: FleetPart["lagMs"] }>;
}

export interface Fleet {
  /** Milliseconds it took every socket to open and get its first totals frame. */
  openMs: number;
  pids: number[];
  /** How many sockets have seen a totals frame with this raisedMinor so far. */
  have(raisedMinor: number): Promise<number>;
  stop(): Promise<FleetResult>;
  /** Kills the processes without reading anything (teardown after a failure). */
  kill(): Promise<void>;
}

interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  out: string;
  lines: AsyncIterator<string>;
  stop: () => Promise<void>;
}

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      yield buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf("\n");
    }
  }
}

async function nextLine(child: Child, prefix: string, timeoutMs: number, what: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`ws-clients: no ${what} within ${timeoutMs} ms`);
    const got = await Promise.race([child.lines.next(), Bun.sleep(left).then(() => null)]);
    if (got === null) continue;
    if (got.done) throw new Error(`ws-clients exited (code ${child.proc.exitCode}) before ${what}`);
    if (got.value.startsWith(prefix)) return got.value.slice(prefix.length);
  }
}

export async function startFleet(options: {
  gatewayUrls: readonly string[];
  sockets: number;
  campaignId: string;
  processes: number;
  readyTimeoutMs?: number;
}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "cfa-bench-ws-"));
  const wsUrls = options.gatewayUrls.map((u) => u.replace(/^http/, "ws"));
  const children: Child[] = [];
  const share = (i: number) =>
    Math.floor(options.sockets / options.processes) + (i < options.sockets % options.processes ? 1 : 0);
  const kill = async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < options.processes; i++) {
      const out = join(dir, `part-${i}.json`);
      // Each process gets its gateways in a rotated order, so sockets split evenly across them.
      const rotated = wsUrls.map((_, k) => wsUrls[(k + i) % wsUrls.length] as string);
      const proc = Bun.spawn(["bun", join(import.meta.dir, "ws-clients.ts")], {
        env: {
          ...process.env,
          WS_URLS: rotated.join(","),
          WS_SOCKETS: String(share(i)),
          WS_CAMPAIGN_ID: options.campaignId,
          WS_OUT: out,
        },
        stdin: "pipe",
        stdout: "pipe",
        stderr: "inherit",
      });
      children.push({
        proc,
        out,
        lines: linesOf(proc.stdout as ReadableStream<Uint8Array>)[Symbol.asyncIterator](),
        stop: processStopper(proc, 3000),
      });
    }
    const started = Date.now();
    await Promise.all(children.map((c) => nextLine(c, "READY ", options.readyTimeoutMs ?? 120_000, "READY")));
    const openMs = Date.now() - started;
    return {
      openMs,
      pids: children.map((c) => c.proc.pid),
      kill,
      async have(raisedMinor) {
        let n = 0;
        for (const c of children) {
          const stdin = c.proc.stdin as import("bun").FileSink;
          stdin.write(`have ${raisedMinor}\n`);
          await stdin.flush();
          n += Number(await nextLine(c, "HAVE ", 10_000, "HAVE"));
        }
        return n;
      },
      async stop() {
        for (const c of children) {
          const stdin = c.proc.stdin as import("bun").FileSink;
          stdin.write("stop\n");
          await stdin.flush();
        }
        await Promise.all(children.map((c) => nextLine(c, "DONE", 60_000, "DONE")));
        const parts = children.map((c) => JSON.parse(readFileSync(c.out, "utf8")) as FleetPart);
        await kill();
        const seen: Array<Map<number, number>> = [];
        const gatewayOf: number[] = [];
        for (const part of parts) {
          const base = seen.length;
          for (let s = 0; s < part.sockets; s++) {
            seen.push(new Map());
            gatewayOf.push(part.gatewayOf[s] ?? 0);
          }
          part.values.forEach((value, v) => {
            part.times[v]?.forEach((t, s) => {
              if (t !== null) seen[base + s]?.set(value, t);
            });
          });
        }
        // Gateway indexes are per process (rotated); map them back to the caller's order.
        let offset = 0;
        parts.forEach((part, i) => {
          for (let s = 0; s < part.sockets; s++)
            gatewayOf[offset + s] = ((part.gatewayOf[s] ?? 0) + i) % options.gatewayUrls.length;
          offset += part.sockets;
        });
        return {
          sockets: seen.length,
          gatewayOf,
          seen,
          frames: parts.reduce((n, p) => n + p.frames, 0),
          otherFrames: parts.reduce((n, p) => n + p.otherFrames, 0),
          closed: parts.reduce((n, p) => n + p.closed.length, 0),
          processes: parts.map((p) => ({
            sockets: p.sockets,
            cpuShare: p.wallMs > 0 ? p.cpuMs / p.wallMs : 0,
            lagMs: p.lagMs,
          })),
        };
      },
    };
  } catch (err) {
    await kill();
    throw err;
  }
}
