// A tiny bench of the database layer alone: how many `begin; insert; select; commit` transactions
// a second the same createDb pool completes on the PostgreSQL server and on the embedded PGlite
// (libs/db createEmbeddedDatabase, in this thread and in a worker thread), at a few
// concurrencies, and the longest a 10 ms timer of this thread was late meanwhile (what a
// database in this thread costs the HTTP servers beside it). Prints, asserts nothing.
//
//   bun benches/lib/db-tx-rate.ts [seconds per point, default 5]

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDb,
  createEmbeddedDatabase,
  createEmbeddedDatabaseThread,
  createTestDatabase,
  sql,
} from "@careforall/db";

const seconds = Number(process.argv[2] ?? 5);
const concurrencies = [1, 4, 16];
const POOL = 10;

interface Point {
  tps: number;
  p50: number;
  p99: number;
  lag: number;
}

async function measure(url: string, concurrency: number): Promise<Point> {
  const h = createDb({ url, schema: {}, max: POOL, name: "db-tx-rate" });
  await h.client`create table if not exists bench_tx (id bigserial primary key, campaign int not null, amount int not null)`;
  const latencies: number[] = [];
  let lag = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  const end = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await h.db.transaction(async (tx) => {
          const [row] = (await tx.execute(
            sql`insert into bench_tx (campaign, amount) values (${w}, ${n % 1000}) returning id`,
          )) as unknown as Array<{ id: string }>;
          await tx.execute(sql`select amount from bench_tx where id = ${row?.id}`);
        });
        latencies.push(performance.now() - t0);
        n++;
      }
    }),
  );
  clearInterval(probe);
  await h.client`truncate bench_tx`;
  await h.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { tps: n / seconds, p50: at(0.5), p99: at(0.99), lag };
}

const report = (target: string, c: number, r: Point) => {
  const line = `${target.padEnd(24)} concurrency ${String(c).padStart(2)}  ${r.tps.toFixed(0).padStart(6)} tx/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  timer late ≤ ${r.lag.toFixed(0)} ms`;
  console.log(line);
};

const server = await createTestDatabase("txrate");
try {
  for (const c of concurrencies) report("PostgreSQL server", c, await measure(server.url, c));
} finally {
  await server.drop();
}

const dir = await mkdtemp(join(tmpdir(), "cfa-txrate-"));
try {
  const embedded = await createEmbeddedDatabase({ dataDir: join(dir, "pg") });
  try {
    for (const c of concurrencies) report("embedded PGlite", c, await measure(embedded.url, c));
  } finally {
    await embedded.close();
  }
  const thread = await createEmbeddedDatabaseThread({ dataDir: join(dir, "pg") });
  try {
    for (const c of concurrencies) report("embedded PGlite, thread", c, await measure(thread.url, c));
  } finally {
    await thread.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(`\npool ${POOL}, ${seconds} s per point, one insert + one select per transaction`);
