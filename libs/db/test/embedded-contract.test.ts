// The database behaviours the services rely on, run against both databases the platform boots
// on: the real PostgreSQL server (profile `servers`) and the embedded PGlite behind its
// wire-protocol socket (profile `embedded`). The same code, the same assertions; what only the
// embedded database has (its data directory, its connection multiplexing) is tested after.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDb,
  createEmbeddedDatabase,
  createEmbeddedDatabaseThread,
  createGroupCommit,
  createTestDatabase,
  type DbHandle,
  ensureDatabase,
  isStatementError,
  isUniqueViolation,
  migrate,
  sql,
} from "@careforall/db";
import postgres from "postgres";

/** A migrations folder with `count` migrations creating tables t0..t(count-1) in `schema`. */
async function migrationsFolder(schema: string, count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mig-"));
  await mkdir(join(dir, "meta"));
  const entries = Array.from({ length: count }, (_, i) => ({
    idx: i,
    version: "7",
    when: i + 1,
    tag: `000${i}_m`,
    breakpoints: true,
  }));
  await writeFile(join(dir, "meta", "_journal.json"), JSON.stringify({ version: "7", dialect: "postgresql", entries }));
  for (let i = 0; i < count; i++)
    await writeFile(
      join(dir, `000${i}_m.sql`),
      `CREATE SCHEMA IF NOT EXISTS "${schema}";\n--> statement-breakpoint\nCREATE TABLE "${schema}"."t${i}" ("id" integer PRIMARY KEY, "name" text NOT NULL UNIQUE);`,
    );
  return dir;
}

/**
 * A fresh embedded data directory. initdb in WASM takes 8–11 s on a loaded two-core machine, so
 * one cluster is initialised per run and copied for each test (seedFrom).
 */
let template: Promise<string> | undefined;
async function freshDataDir(): Promise<{ dataDir: string; seedFrom: string; remove(): Promise<void> }> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "cfa-pglite-template-"));
    const e = await createEmbeddedDatabase({ dataDir: join(dir, "pg") });
    await e.close();
    return join(dir, "pg");
  })();
  const seedFrom = await template;
  const dir = await mkdtemp(join(tmpdir(), "cfa-pglite-"));
  return { dataDir: join(dir, "pg"), seedFrom, remove: () => rm(dir, { recursive: true, force: true }) };
}

const SLOW = 60_000;

afterAll(async () => {
  if (template) await rm(join(await template, ".."), { recursive: true, force: true });
});

interface Target {
  url: string;
  close(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    "PostgreSQL server",
    async () => {
      const tdb = await createTestDatabase("embcontract");
      return { url: tdb.url, close: () => tdb.drop() };
    },
  ],
  [
    "embedded PGlite",
    async () => {
      const dir = await freshDataDir();
      const e = await createEmbeddedDatabase(dir);
      return {
        url: e.url,
        async close() {
          await e.close();
          await dir.remove();
        },
      };
    },
  ],
  [
    "embedded PGlite in a worker thread",
    async () => {
      const dir = await freshDataDir();
      const e = await createEmbeddedDatabaseThread(dir);
      return {
        url: e.url,
        async close() {
          await e.close();
          await dir.remove();
        },
      };
    },
  ],
];

for (const [label, open] of targets) {
  describe(`database contract on ${label}`, () => {
    let target: Target;
    let h: DbHandle<Record<string, never>>;
    beforeAll(async () => {
      target = await open();
      await ensureDatabase(target.url);
      h = createDb({ url: target.url, schema: {}, max: 10, name: "contract" });
    }, SLOW);
    afterAll(async () => {
      await h.close();
      await target.close();
    });

    test("migrate: concurrent starts apply each migration once, and again is a no-op", async () => {
      const two = await migrationsFolder("demo", 2);
      await Promise.all(
        Array.from({ length: 4 }, () => migrate({ url: target.url, migrationsFolder: two, schema: "demo" })),
      );
      const count = async () => (await h.client`select count(*)::int as n from demo.__migrations`)[0]?.n;
      expect(await count()).toBe(2);
      await migrate({ url: target.url, migrationsFolder: two, schema: "demo" });
      expect(await count()).toBe(2);
      // A later migration on top of applied ones applies alone.
      const three = await migrationsFolder("demo", 3);
      await Promise.all(
        Array.from({ length: 3 }, () => migrate({ url: target.url, migrationsFolder: three, schema: "demo" })),
      );
      expect(await count()).toBe(3);
      const [t2] = await h.client`select to_regclass('demo.t2')::text as t`;
      expect(t2?.t).toBe("demo.t2");
    });

    test("a transaction that throws leaves nothing; one that commits leaves everything", async () => {
      await h.client`create table demo.tx (id int primary key)`;
      const thrown = await h.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into demo.tx values (1), (2)`);
          throw new Error("changed my mind");
        })
        .catch((e: Error) => e);
      expect((thrown as Error).message).toBe("changed my mind");
      // A failing statement aborts the whole transaction too.
      const failed = await h.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into demo.tx values (3)`);
          await tx.execute(sql`insert into demo.tx values (3)`);
        })
        .catch((e: unknown) => e);
      expect(isUniqueViolation(failed)).toBe(true);
      await h.db.transaction(async (tx) => {
        await tx.execute(sql`insert into demo.tx values (4)`);
        await tx.execute(sql`insert into demo.tx values (5)`);
      });
      const rows = await h.client`select id from demo.tx order by id`;
      expect(rows.map((r) => r.id)).toEqual([4, 5]);
    });

    test("a connection that dies inside a transaction leaves nothing and holds nothing", async () => {
      await h.client`create table demo.dies (id int primary key)`;
      const lone = postgres(target.url, { max: 1, onnotice: () => {} });
      let inside!: () => void;
      const entered = new Promise<void>((r) => {
        inside = r;
      });
      const tx = lone
        .begin(async (t) => {
          await t`insert into demo.dies values (1)`;
          inside();
          await new Promise(() => {}); // never commits
        })
        .catch((e: unknown) => e);
      await entered;
      await lone.end({ timeout: 0 });
      expect(await tx).toBeInstanceOf(Error);
      // The row is gone and its lock released: another connection inserts the same key.
      await h.client`insert into demo.dies values (1)`;
      expect((await h.client`select count(*)::int as n from demo.dies`)[0]?.n).toBe(1);
    });

    test("concurrent FOR UPDATE SKIP LOCKED claims never hand one row to two workers", async () => {
      await h.client`create table demo.jobs (id int primary key, done boolean not null default false)`;
      await h.client`create table demo.claims (job int not null, worker int not null)`;
      await h.client`insert into demo.jobs (id) select g from generate_series(1, 300) g`;
      const worker = async (w: number) => {
        for (;;) {
          const got = await h.db.transaction(async (tx) => {
            const rows = (await tx.execute(sql`
              select id from demo.jobs where not done order by id limit 7 for update skip locked`)) as unknown as Array<{
              id: number;
            }>;
            if (rows.length === 0) return 0;
            const ids = rows.map((r) => r.id);
            await tx.execute(sql`insert into demo.claims (job, worker)
              select unnest(${`{${ids.join(",")}}`}::int[]), ${w}`);
            await tx.execute(sql`update demo.jobs set done = true where id = any(${`{${ids.join(",")}}`}::int[])`);
            return ids.length;
          });
          if (got === 0) return;
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      const [c] = await h.client`select count(*)::int as claims, count(distinct job)::int as jobs from demo.claims`;
      expect(c).toEqual({ claims: 300, jobs: 300 });
    });

    test("unique violations are recognisable, with their constraint; other errors are statement errors", async () => {
      await h.client`create table demo.u (id int primary key, email text not null constraint u_email_key unique)`;
      await h.db.execute(sql`insert into demo.u values (1, 'a@x')`);
      const err = await h.db.execute(sql`insert into demo.u values (2, 'a@x')`).catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
      expect(isUniqueViolation(err, "u_email_key")).toBe(true);
      expect(isUniqueViolation(err, "u_pkey")).toBe(false);
      const div = await h.client`select 1/0`.catch((e: unknown) => e);
      expect(isStatementError(div)).toBe(true);
      expect(isUniqueViolation(div)).toBe(false);
    });

    test("group commit: a burst leaves in batches, every item answered; a bad item fails alone", async () => {
      await h.client`create table demo.gc (id int primary key, note text not null)`;
      const insertSql = `insert into demo.gc (id, note)
        select (x->>'id')::int, x->>'note' from jsonb_array_elements($1::jsonb) x returning id`;
      const sizes: number[] = [];
      const group = createGroupCommit<{ id: number; note: string }, number>({
        concurrency: 4,
        maxBatch: 50,
        retryAlone: isStatementError,
        onBatch: (n) => sizes.push(n),
        async run(items) {
          // As the pledge accept does: the pool's own client, one prepared statement per batch.
          const rows = await h.db.$client.unsafe(insertSql, [JSON.stringify(items)], { prepare: true });
          return rows.map((r) => r.id as number);
        },
      });
      const ids = Array.from({ length: 400 }, (_, i) => i + 1);
      const answers = await Promise.all(ids.map((id) => group.submit({ id, note: `n${id}` })));
      expect(answers).toEqual(ids);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(400);
      expect(sizes.length).toBeLessThan(400);
      // Id 7 exists: its batch fails, is retried item by item, and only 7 is refused.
      const mixed = await Promise.allSettled([401, 402, 7, 403].map((id) => group.submit({ id, note: "late" })));
      expect(mixed.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect(isUniqueViolation((mixed[2] as PromiseRejectedResult).reason)).toBe(true);
      expect((await h.client`select count(*)::int as n from demo.gc`)[0]?.n).toBe(403);
    });

    test("a pool of connections running at once gets its own answers (parameters, prepared and unnamed)", async () => {
      const answers = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const [r] =
            i % 2 === 0
              ? await h.client`select ${i}::int as i, ${`s${i}`}::text as s`
              : await h.client.unsafe("select $1::int as i, $2::text as s", [i, `s${i}`], { prepare: false });
          return r?.i === i && r?.s === `s${i}`;
        }),
      );
      expect(answers.every(Boolean)).toBe(true);
    });

    test("every service's migrations apply (SQL functions included), and again is a no-op", async () => {
      const apps = join(import.meta.dir, "..", "..", "..", "apps");
      const services = ["auth", "bank", "campaign", "chat", "notification", "payment", "pledge"];
      for (const service of services) {
        const folder = join(apps, service, "src", "db", "migrations");
        await migrate({ url: target.url, migrationsFolder: folder, schema: service });
        await migrate({ url: target.url, migrationsFolder: folder, schema: service });
        const applied = (await h.client.unsafe(`select count(*)::int as n from "${service}".__migrations`))[0]?.n;
        const files = (await readdir(folder)).filter((f) => f.endsWith(".sql")).length;
        expect({ service, applied }).toEqual({ service, applied: files });
      }
      // The pledge accept and the bank's functions are there, in their schemas.
      const fns = await h.client`select n.nspname as schema, count(*)::int as n from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('pledge', 'bank') group by 1 order by 1`;
      expect(fns.find((r) => r.schema === "pledge")?.n).toBeGreaterThan(0);
    });
  });
}

describe("embedded PGlite only", () => {
  test(
    "data survives close and reopen of the same data directory",
    async () => {
      const dir = await freshDataDir();
      const { dataDir } = dir;
      const first = await createEmbeddedDatabase(dir);
      const a = createDb({ url: first.url, schema: {}, max: 4 });
      await a.client`create schema keep`;
      await a.client`create table keep.pledges (id int primary key, amount int not null)`;
      await a.db.transaction(async (tx) => {
        await tx.execute(sql`insert into keep.pledges select g, g * 100 from generate_series(1, 50) g`);
      });
      await a.close();
      await first.close();
      await first.close(); // idempotent

      // Reopened in a worker thread: the same files, whichever way they are served.
      const second = await createEmbeddedDatabaseThread({ dataDir });
      const b = createDb({ url: second.url, schema: {}, max: 4 });
      const [r] = await b.client`select count(*)::int as n, sum(amount)::int as total from keep.pledges`;
      expect(r).toEqual({ n: 50, total: 127_500 });
      await b.close();
      await second.close();
      await dir.remove();
    },
    SLOW,
  );

  test(
    "a process killed (SIGKILL) after its commits loses none of them; its stale lock is taken over",
    async () => {
      const dir = await freshDataDir();
      const child = Bun.spawn(
        [
          process.execPath,
          join(import.meta.dir, "fixtures", "embedded-commit-then-die.ts"),
          dir.dataDir,
          "100",
          dir.seedFrom,
        ],
        { stdout: "pipe", stderr: "inherit" },
      );
      const reader = child.stdout.getReader();
      let out = "";
      const deadline = Date.now() + 45_000;
      while (!out.includes("committed") && Date.now() < deadline) {
        const { value, done } = await Promise.race([
          reader.read(),
          Bun.sleep(Math.max(0, deadline - Date.now())).then(() => ({ value: undefined, done: true })),
        ]);
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      expect(out).toContain("committed");
      child.kill("SIGKILL");
      await child.exited;
      const e = await createEmbeddedDatabase({ dataDir: dir.dataDir });
      const h = createDb({ url: e.url, schema: {}, max: 2 });
      expect((await h.client`select count(*)::int as n from died`)[0]?.n).toBe(100);
      await h.close();
      await e.close();
      await dir.remove();
    },
    SLOW,
  );

  test(
    "one process per data directory: a second open is refused while the first is open",
    async () => {
      const dir = await freshDataDir();
      const { dataDir } = dir;
      const first = await createEmbeddedDatabase(dir);
      const err = await createEmbeddedDatabase({ dataDir }).catch((e: Error) => e);
      expect(String(err)).toContain("already open");
      // From a worker thread too (same process, same lock), and the refusal reaches the caller.
      const fromThread = await createEmbeddedDatabaseThread({ dataDir }).catch((e: Error) => e);
      expect(String(fromThread)).toContain("already open");
      await first.close();
      const again = await createEmbeddedDatabase({ dataDir });
      await again.close();
      await dir.remove();
    },
    SLOW,
  );

  test(
    "a transaction waiting on another connection is cut off after the idle timeout, not hung for ever",
    async () => {
      const dir = await freshDataDir();
      const e = await createEmbeddedDatabase({ ...dir, idleInTransactionTimeoutMs: 300 });
      const h = createDb({ url: e.url, schema: {}, max: 4 });
      await h.client`create table waits (id int primary key)`;
      const started = Date.now();
      const outcome = await h.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into waits values (1)`);
          // A query on another pooled connection: it can only run once this transaction is over.
          await h.client`select 1`;
          await tx.execute(sql`insert into waits values (2)`);
        })
        .catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await h.client`select count(*)::int as n from waits`)[0]?.n).toBe(0);
      await h.close();
      await e.close();
      await dir.remove();
    },
    SLOW,
  );

  test(
    "statements a closed connection prepared are deallocated from the shared session",
    async () => {
      const dir = await freshDataDir();
      const e = await createEmbeddedDatabase(dir);
      const pool = createDb({ url: e.url, schema: {}, max: 4 });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => pool.client.unsafe(`select ${i} as n, $1::int as p`, [i])),
      );
      expect(e.stats().preparedStatements).toBeGreaterThan(0);
      await pool.close();
      const probe = postgres(e.url, { max: 1, prepare: false, onnotice: () => {} });
      const deadline = Date.now() + 5_000;
      let left = -1;
      while (Date.now() < deadline) {
        left = (await probe`select count(*)::int as n from pg_prepared_statements`)[0]?.n;
        if (left === 0) break;
        await Bun.sleep(20);
      }
      expect(left).toBe(0);
      await probe.end();
      await e.close();
      await dir.remove();
    },
    SLOW,
  );
});
