// The deployed database (compose): one role per service, each owning only its schema, no CREATE on
// the database, nothing on `public`. Start-up (ensureDatabase, migrate and its lock) must work as
// such a role, and the role must not reach another service's schema.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, ensureDatabase, migrate, type TestDatabase } from "@careforall/db";
import postgres from "postgres";

let tdb: TestDatabase;
let admin: postgres.Sql;
const tag = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
const roleA = `cfa_t_owner_a_${tag}`;
const roleB = `cfa_t_owner_b_${tag}`;

/** The test database's URL, logged in as `role` (the local server trusts local TCP logins). */
function urlAs(role: string): string {
  const u = new URL(tdb.url);
  u.username = role;
  u.password = "";
  return u.toString();
}

/** A drizzle-kit-shaped migrations folder, its first file starting like our services' do. */
async function migrations(schema: string, files: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mig-owner-"));
  await mkdir(join(dir, "meta"));
  const entries = files.map((_, i) => ({ idx: i, version: "7", when: 1_000 + i, tag: `000${i}_m`, breakpoints: true }));
  await writeFile(join(dir, "meta", "_journal.json"), JSON.stringify({ version: "7", dialect: "postgresql", entries }));
  for (const [i, body] of files.entries()) await writeFile(join(dir, `000${i}_m.sql`), body.replaceAll("{S}", schema));
  return dir;
}

const INIT = [
  `-- The migrator creates this schema first, hence IF NOT EXISTS.\nCREATE SCHEMA IF NOT EXISTS "{S}";`,
  `CREATE TABLE "{S}"."things" ("id" integer PRIMARY KEY, "name" text NOT NULL);`,
].join("\n--> statement-breakpoint\n");
const SECOND = `ALTER TABLE "{S}"."things" ADD COLUMN "note" text;`;

beforeAll(async () => {
  tdb = await createTestDatabase("owner");
  admin = postgres(tdb.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`
    create role "${roleA}" login nosuperuser nocreatedb nocreaterole;
    create role "${roleB}" login nosuperuser nocreatedb nocreaterole;
    revoke all on database "${tdb.name}" from public;
    grant connect, temporary on database "${tdb.name}" to "${roleA}", "${roleB}";
    revoke all on schema public from public;
    create schema alpha authorization "${roleA}";
    create schema beta authorization "${roleB}";
  `);
});
afterAll(async () => {
  await admin.end({ timeout: 5 });
  await tdb.drop();
  const root = postgres(tdb.url.replace(/\/[^/]*$/, "/postgres"), { max: 1, onnotice: () => {} });
  await root.unsafe(`drop role if exists "${roleA}"; drop role if exists "${roleB}"`);
  await root.end({ timeout: 5 });
});

describe("a role owning only its schema", () => {
  test("cannot create schemas, so a plain CREATE SCHEMA IF NOT EXISTS is refused (what migrate must avoid)", async () => {
    const a = postgres(urlAs(roleA), { max: 1, onnotice: () => {} });
    try {
      const err = await a.unsafe(`create schema if not exists alpha`).catch((e: { code?: string }) => e);
      expect((err as { code?: string }).code).toBe("42501");
    } finally {
      await a.end({ timeout: 5 });
    }
  });

  test("starts up: ensureDatabase, then migrate (concurrently, under the lock) applies each migration once", async () => {
    await ensureDatabase(urlAs(roleA));
    const folder = await migrations("alpha", [INIT]);
    await Promise.all(
      Array.from({ length: 3 }, () => migrate({ url: urlAs(roleA), migrationsFolder: folder, schema: "alpha" })),
    );
    const rows = await admin`select hash, created_at from alpha.__migrations`;
    expect(rows).toHaveLength(1);
    // The journal is drizzle's own: the file's sha256 and the journal's `when`.
    const body = INIT.replaceAll("{S}", "alpha");
    expect(rows[0]?.hash).toBe(createHash("sha256").update(body).digest("hex"));
    expect(Number(rows[0]?.created_at)).toBe(1_000);
    const [owner] = await admin`select tableowner from pg_tables where schemaname = 'alpha' and tablename = 'things'`;
    expect(owner?.tableowner).toBe(roleA);

    // A later migration applies alone; the first is not run again.
    const next = await migrations("alpha", [INIT, SECOND]);
    await migrate({ url: urlAs(roleA), migrationsFolder: next, schema: "alpha" });
    const [count] = await admin`select count(*)::int as n from alpha.__migrations`;
    expect(count?.n).toBe(2);
    const [column] = await admin`
      select 1 as ok from information_schema.columns
      where table_schema = 'alpha' and table_name = 'things' and column_name = 'note'`;
    expect(column?.ok).toBe(1);
  });

  test("a failing migration leaves nothing behind (one transaction) and is reported", async () => {
    const folder = await migrations("beta", [INIT, `CREATE TABLE "{S}"."broken" (id nosuchtype);`]);
    const err = await migrate({ url: urlAs(roleB), migrationsFolder: folder, schema: "beta" }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    const [tables] =
      await admin`select count(*)::int as n from pg_tables where schemaname = 'beta' and tablename <> '__migrations'`;
    expect(tables?.n).toBe(0);
    const [journal] = await admin`select count(*)::int as n from beta.__migrations`;
    expect(journal?.n).toBe(0);
  });

  test("cannot read or write another service's schema, create a schema, or use public", async () => {
    const folder = await migrations("beta", [INIT]);
    await migrate({ url: urlAs(roleB), migrationsFolder: folder, schema: "beta" });
    const a = postgres(urlAs(roleA), { max: 1, onnotice: () => {} });
    const code = (p: Promise<unknown>) => p.then(() => "ok").catch((e: { code?: string }) => e.code);
    try {
      expect(await code(a`select * from alpha.things`)).toBe("ok");
      expect(await code(a`select * from beta.things`)).toBe("42501");
      expect(await code(a`insert into beta.things (id, name) values (1, 'x')`)).toBe("42501");
      expect(await code(a.unsafe(`create schema gamma`))).toBe("42501");
      expect(await code(a.unsafe(`create table public.t (id int)`))).toBe("42501");
      expect(await code(a.unsafe(`create database "${tdb.name}_x"`))).toBe("42501");
    } finally {
      await a.end({ timeout: 5 });
    }
  });
});
