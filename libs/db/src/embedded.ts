// The embedded database: PGlite (PostgreSQL compiled to WASM, in this process) behind a
// PostgreSQL wire-protocol socket on loopback, so every service keeps its postgres.js pool,
// drizzle, raw SQL, SQL functions and migrations unchanged — only the URL differs.
//
// PGlite is one backend: one session, one transaction at a time. A pool of many connections is
// multiplexed onto it here, correctly:
// - A connection that starts a message batch owns the backend until PGlite answers ReadyForQuery
//   with status idle, so an extended-protocol batch (Parse/Bind/Execute/Sync, unnamed statement
//   and portal included) and an explicit transaction are never interleaved with another
//   connection's messages. Connections waiting for the backend are served in arrival order.
//   (@electric-sql/pglite-socket only pins ownership inside a transaction, so unnamed statements
//   of two connections interleave — pglite issues #1046, PR #977 — which is why it is not used.)
// - A batch is started only once it is whole (up to Sync, Query or Flush), so a client never
//   holds the backend while its own bytes are still in flight.
// - A connection that closes mid-batch or mid-transaction is rolled back, and the statements it
//   prepared by name are deallocated (postgres.js prepares every statement per connection and
//   reconnects after idling, so they would otherwise pile up in the one shared session).
// - A connection holding an open transaction without sending anything for
//   `idleInTransactionTimeoutMs` is cut off and rolled back (PostgreSQL's
//   idle_in_transaction_session_timeout): a transaction that waits on another connection's query
//   would otherwise hang every connection for ever, since that query can only run after it.
//
// What one backend cannot give: transactions run one after another, never side by side (so row
// locks never wait and `SKIP LOCKED` never skips — it is still correct); session state is shared
// by every connection (session-level advisory locks are re-entrant across connections and so
// exclude nothing, `SET` without LOCAL leaks); a transaction must not wait on another
// connection. PGlite executes in this thread, so a long statement blocks the event loop.

import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";

export interface EmbeddedDatabaseOptions {
  /**
   * Directory of the database files (created and initialised when missing). Undefined: in memory,
   * gone on close (tests).
   */
  dataDir?: string;
  /**
   * A closed data directory copied into `dataDir` when that does not exist yet, instead of
   * initialising a new cluster (initdb in WASM takes seconds; a copy of its 40 MB does not).
   */
  seedFrom?: string;
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on. Default 0: any free port (read it from `url`). */
  port?: number;
  /** See the file's header. Default 30 s; 0 disables. */
  idleInTransactionTimeoutMs?: number;
  /** Called when the server drops a connection because of a fault (a PGlite error, the timeout). */
  onConnectionError?(err: unknown): void;
}

export interface EmbeddedDatabase {
  /** What `createDb`, `migrate` and `ensureDatabase` take: `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** The PGlite instance itself (do not query it while connections are open: they own the session). */
  pglite: PGlite;
  stats(): { connections: number; waiting: number; preparedStatements: number };
  /** Stops accepting, drops every connection (rolled back), closes PGlite (files flushed). Idempotent. */
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const [SYNC, QUERY, FLUSH, TERMINATE, PARSE, CLOSE_MSG] = ["S", "Q", "H", "X", "P", "C"].map((c) => c.charCodeAt(0));
const READY_FOR_QUERY = "Z".charCodeAt(0);
const IDLE = "I".charCodeAt(0);

interface Conn {
  id: number;
  socket: Socket;
  /** Bytes received and not yet cut into messages. */
  buffer: Buffer;
  /** Whole messages waiting to be run. */
  pending: Uint8Array[];
  started: boolean;
  closed: boolean;
  /** The backend is in a transaction block (status T or E) on this connection's behalf. */
  inTx: boolean;
  /** Messages of a batch were run and its Sync has not been yet (only after a Flush). */
  midBatch: boolean;
  /** Statements this connection prepared by name. */
  statements: Set<string>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

export async function createEmbeddedDatabase(options: EmbeddedDatabaseOptions = {}): Promise<EmbeddedDatabase> {
  const { dataDir } = options;
  const host = options.host ?? "127.0.0.1";
  const idleInTxMs = options.idleInTransactionTimeoutMs ?? 30_000;
  const releaseLock = dataDir === undefined ? () => {} : lockDataDir(dataDir);
  let pglite: PGlite;
  try {
    if (dataDir !== undefined) {
      mkdirSync(dirname(dataDir), { recursive: true });
      if (options.seedFrom !== undefined && !existsSync(dataDir))
        cpSync(options.seedFrom, dataDir, { recursive: true });
    }
    // The extensions the services' migrations create (campaign search: pg_trgm).
    pglite = await PGlite.create(dataDir, { extensions: { pg_trgm } });
  } catch (err) {
    releaseLock();
    throw err;
  }

  const conns = new Set<Conn>();
  /** Connections with a whole batch to run, in arrival order (the owner is never in it). */
  const waiting: Conn[] = [];
  let owner: Conn | undefined;
  let pumping = false;
  let nextId = 1;
  let closing: Promise<void> | undefined;

  /** Runs one message against PGlite; answers the transaction status if the reply ended with ReadyForQuery. */
  async function run(conn: Conn, message: Uint8Array): Promise<number | undefined> {
    const tail = new Uint8Array(6);
    let tailLength = 0;
    await pglite.runExclusive(() =>
      pglite.execProtocolRawStream(message, {
        onRawData: (data: Uint8Array) => {
          if (data.length === 0) return;
          if (!conn.closed && conn.socket.writable) conn.socket.write(data);
          // Keep the last 6 bytes seen: a ReadyForQuery is 'Z', length 5, status.
          if (data.length >= 6) {
            tail.set(data.subarray(data.length - 6));
            tailLength = 6;
          } else {
            const keep = Math.max(0, Math.min(tailLength, 6 - data.length));
            tail.copyWithin(0, tailLength - keep, tailLength);
            tail.set(data, keep);
            tailLength = keep + data.length;
          }
        },
      }),
    );
    if (tailLength === 6 && tail[0] === READY_FOR_QUERY && tail[4] === 5) return tail[5];
    return undefined;
  }

  function release(conn: Conn): void {
    if (owner !== conn) return;
    owner = undefined;
    if (conn.pending.length > 0 && !waiting.includes(conn) && hasWholeBatch(conn)) waiting.push(conn);
  }

  /** Runs batches until nothing is runnable; one pump at a time. */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (;;) {
        if (owner === undefined) {
          owner = waiting.shift();
          if (owner === undefined) return;
        }
        const conn: Conn = owner;
        if (conn.idleTimer !== undefined) {
          clearTimeout(conn.idleTimer);
          conn.idleTimer = undefined;
        }
        if (conn.pending.length === 0 || !hasWholeBatch(conn)) {
          // The owner is in a transaction or after a Flush: it keeps the backend until it speaks.
          if (idleInTxMs > 0 && !conn.closed)
            conn.idleTimer = setTimeout(
              () => drop(conn, new Error("embedded database: idle in transaction, connection closed")),
              idleInTxMs,
            );
          return;
        }
        // One whole batch: up to and including the first Sync, Query or Flush.
        for (;;) {
          const message = conn.pending.shift();
          if (message === undefined) break; // dropped meanwhile
          const type = message[0];
          if (type === TERMINATE) {
            conn.pending.length = 0;
            drop(conn);
            break;
          }
          if (type === PARSE) {
            const name = cString(message, 5);
            if (name !== "") conn.statements.add(name);
          } else if (type === CLOSE_MSG && message[5] === "S".charCodeAt(0)) {
            conn.statements.delete(cString(message, 6));
          }
          let status: number | undefined;
          try {
            status = await run(conn, message);
          } catch (err) {
            // PGlite failed (not a statement error, which it answers in the protocol): this
            // connection is lost; the backend is reset for the others.
            options.onConnectionError?.(err);
            conn.pending.length = 0;
            drop(conn);
            break;
          }
          if (!conn.started) {
            conn.started = true;
            if (status !== undefined) conn.inTx = status !== IDLE;
            release(conn);
            parse(conn); // anything the client sent right behind its start-up
            break;
          }
          if (type === SYNC || type === QUERY) {
            conn.midBatch = false;
            conn.inTx = status === undefined ? pglite.isInTransaction() : status !== IDLE;
            if (!conn.inTx) release(conn);
            break;
          }
          conn.midBatch = true;
          if (type === FLUSH) break;
        }
        if (conn.closed && owner === conn) await cleanUp(conn);
      }
    } finally {
      pumping = false;
    }
  }

  /** Rolls back what a closed owner left open and forgets its statements, then frees the backend. */
  async function cleanUp(conn: Conn): Promise<void> {
    const steps: Uint8Array[] = [];
    // Mid-batch, the implicit transaction would commit at Sync: a statement that fails to parse
    // aborts it first, so the Sync rolls it back. Then whatever explicit transaction is open.
    if (conn.midBatch)
      steps.push(message(PARSE, new TextEncoder().encode("\0rollback now!\0\0\0")), message(SYNC, new Uint8Array(0)));
    if (conn.inTx || conn.midBatch) steps.push(query("ROLLBACK"));
    for (const name of conn.statements) steps.push(query(`DEALLOCATE ${quoteIdent(name)}`));
    conn.statements.clear();
    for (const step of steps) {
      try {
        await run(conn, step);
      } catch (err) {
        options.onConnectionError?.(err);
      }
    }
    conn.inTx = false;
    conn.midBatch = false;
    owner = undefined;
  }

  function drop(conn: Conn, reason?: Error): void {
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    if (conn.closed) return;
    if (reason !== undefined) options.onConnectionError?.(reason);
    conn.closed = true;
    conns.delete(conn);
    const queued = waiting.indexOf(conn);
    if (queued >= 0) waiting.splice(queued, 1);
    conn.pending.length = 0;
    conn.socket.destroy();
    if (owner === conn) {
      // Cleaned up by the pump, which may be running a batch of this connection right now.
      if (!pumping) void cleanUpThenPump(conn);
    } else if (conn.statements.size > 0) {
      // Its statements are deallocated when the backend is free, one Query each (one that fails,
      // because its Parse had failed, must not stop the others), answered to no one.
      for (const name of conn.statements) conn.pending.push(query(`DEALLOCATE ${quoteIdent(name)}`));
      conn.statements.clear();
      waiting.push(conn);
      void pump();
    }
  }

  async function cleanUpThenPump(conn: Conn): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      await cleanUp(conn);
    } finally {
      pumping = false;
    }
    await pump();
  }

  function onData(conn: Conn, data: Buffer): void {
    if (conn.closed) return;
    conn.buffer = conn.buffer.length === 0 ? data : Buffer.concat([conn.buffer, data]);
    parse(conn);
  }

  /** Cuts the received bytes into whole messages and queues the connection once it has a whole batch. */
  function parse(conn: Conn): void {
    for (;;) {
      const b = conn.buffer;
      if (!conn.started && conn.pending.length === 0) {
        // Start-up phase: a length, a code, no type byte.
        if (b.length < 8) break;
        const length = b.readInt32BE(0);
        if (b.length < length) break;
        const code = b.readInt32BE(4);
        conn.buffer = b.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          conn.socket.write("N");
          continue;
        }
        if (code === CANCEL_REQUEST || code !== PROTOCOL_3) {
          // Cancelling is not supported (nor are other protocol versions).
          drop(conn);
          return;
        }
        conn.pending.push(new Uint8Array(b.subarray(0, length)));
        break;
      }
      if (!conn.started && conn.pending.length > 0) break; // the start-up is answered first
      if (b.length < 5) break;
      const length = 1 + b.readInt32BE(1);
      if (b.length < length) break;
      conn.pending.push(new Uint8Array(b.subarray(0, length)));
      conn.buffer = b.subarray(length);
    }
    if (conn.pending.length > 0 && owner !== conn && !waiting.includes(conn) && hasWholeBatch(conn)) waiting.push(conn);
    void pump();
  }

  const server: Server = createServer((socket) => {
    if (closing !== undefined) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: Conn = {
      id: nextId++,
      socket,
      buffer: Buffer.alloc(0),
      pending: [],
      started: false,
      closed: false,
      inTx: false,
      midBatch: false,
      statements: new Set(),
      idleTimer: undefined,
    };
    conns.add(conn);
    socket.on("data", (data: Buffer) => onData(conn, data));
    socket.on("error", () => drop(conn));
    socket.on("close", () => drop(conn));
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("embedded database: no port"));
      else resolve(address.port);
    });
  }).catch(async (err) => {
    await pglite.close().catch(() => {});
    releaseLock();
    throw err;
  });

  return {
    url: `postgres://postgres@${host}:${port}/postgres`,
    pglite,
    stats: () => ({
      connections: conns.size,
      waiting: waiting.length,
      preparedStatements: [...conns].reduce((n, c) => n + c.statements.size, 0),
    }),
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const conn of [...conns]) drop(conn);
        });
        // Whatever is still running (a batch, a clean-up) finishes before PGlite closes.
        const deadline = Date.now() + 5_000;
        while ((pumping || owner !== undefined) && Date.now() < deadline) await Bun.sleep(5);
        await pglite.close();
        releaseLock();
      })();
      return closing;
    },
  };
}

/** True when the connection's pending messages hold a whole batch (a Sync, Query, Flush or Terminate). */
function hasWholeBatch(conn: Conn): boolean {
  if (!conn.started) return conn.pending.length > 0;
  return conn.pending.some((m) => m[0] === SYNC || m[0] === QUERY || m[0] === FLUSH || m[0] === TERMINATE);
}

function cString(bytes: Uint8Array, start: number): string {
  const end = bytes.indexOf(0, start);
  return new TextDecoder().decode(bytes.subarray(start, end < 0 ? bytes.length : end));
}

function message(type: number | undefined, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type ?? 0;
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

function query(text: string): Uint8Array {
  return message(QUERY, new TextEncoder().encode(`${text}\0`));
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * One process per data directory: PGlite does not guard it, and two writers corrupt it. A lock
 * file beside the directory holds the owner's pid; a lock whose process is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir.replace(/\/+$/, "")}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(lockPath, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
        throw new Error(`embedded database: ${dataDir} is in use by process ${pid} (${lockPath})`);
      if (pid === process.pid)
        throw new Error(`embedded database: ${dataDir} is already open in this process (${lockPath})`);
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`embedded database: could not lock ${dataDir} (${lockPath})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

export interface EmbeddedDatabaseThread {
  /** As EmbeddedDatabase.url. */
  url: string;
  /** Closes the database (files flushed) and ends the thread. Idempotent. */
  close(): Promise<void>;
}

/**
 * The embedded database served from a worker thread: PGlite's WASM then runs beside this
 * thread's event loop instead of on it, so the services' own work (HTTP, consumers) can use a
 * second core while the database works. Same options, same URL, same contract tests. Measured
 * with the database alone (benches/lib/db-tx-rate.ts, 2 cores): no clear difference in rate or
 * timer lateness either way, run to run noise (±30 %) larger than the gap; whether it pays with
 * the whole platform in the process is for the embedded profile's donate bench to say.
 */
export async function createEmbeddedDatabaseThread(
  options: EmbeddedDatabaseOptions = {},
): Promise<EmbeddedDatabaseThread> {
  const { onConnectionError, dataDir, seedFrom, host, port, idleInTransactionTimeoutMs } = options;
  // Only data crosses to the thread (the callback stays here).
  const rest = { dataDir, seedFrom, host, port, idleInTransactionTimeoutMs };
  const worker = new Worker(new URL("./embedded-worker.ts", import.meta.url).href);
  type Reply = { type: "opened"; url: string } | { type: "closed" } | { type: "failed"; message: string };
  const replies: Array<(reply: Reply) => void> = [];
  const ended = new Promise<void>((resolve) => worker.addEventListener("close", () => resolve(), { once: true }));
  worker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as Reply | { type: "connection-error"; message: string };
    if (data.type === "connection-error") onConnectionError?.(new Error(data.message));
    else replies.shift()?.(data);
  });
  worker.addEventListener("error", (event) => {
    const failure: Reply = { type: "failed", message: `embedded database thread: ${event.message}` };
    for (const reply of replies.splice(0)) reply(failure);
  });
  const ask = (request: unknown) =>
    new Promise<Reply>((resolve) => {
      replies.push(resolve);
      worker.postMessage(request);
    });
  const opened = await ask({ type: "open", options: rest });
  if (opened.type !== "opened") {
    worker.terminate();
    throw new Error(opened.type === "failed" ? opened.message : "embedded database thread: did not open");
  }
  let closing: Promise<void> | undefined;
  return {
    url: opened.url,
    close() {
      closing ??= (async () => {
        const reply = await ask({ type: "close" });
        worker.terminate();
        await ended;
        if (reply.type === "failed") throw new Error(reply.message);
      })();
      return closing;
    },
  };
}
