import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDb,
  createTestDatabase,
  ensureDatabase,
  isStatementError,
  isUniqueViolation,
  migrate,
  sql,
  type TestDatabase,
} from "@careforall/db";
import { initTelemetry, SpanKind, withSpan } from "@careforall/telemetry";
import { trace } from "@opentelemetry/api";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase("dblib");
});
afterAll(async () => {
  await tdb.drop();
});

async function fakeMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mig-"));
  await mkdir(join(dir, "meta"));
  await writeFile(
    join(dir, "meta", "_journal.json"),
    JSON.stringify({
      version: "7",
      dialect: "postgresql",
      entries: [{ idx: 0, version: "7", when: 1, tag: "0000_init", breakpoints: true }],
    }),
  );
  await writeFile(
    join(dir, "0000_init.sql"),
    `CREATE SCHEMA IF NOT EXISTS "demo";\n--> statement-breakpoint\nCREATE TABLE "demo"."things" ("id" integer PRIMARY KEY, "name" text NOT NULL UNIQUE);`,
  );
  return dir;
}

describe("db", () => {
  test("migrations apply once even when several processes start together", async () => {
    const folder = await fakeMigrations();
    await Promise.all(
      Array.from({ length: 4 }, () => migrate({ url: tdb.url, migrationsFolder: folder, schema: "demo" })),
    );
    const h = createDb({ url: tdb.url, schema: {} });
    const [row] = await h.client`select count(*)::int as n from demo.__migrations`;
    expect(row?.n).toBe(1);
    expect(await h.ping()).toBe(true);
    await h.close();
  });

  test("unique violations are recognisable for mapping to domain outcomes", async () => {
    const h = createDb({ url: tdb.url, schema: {} });
    await h.db.execute(sql`insert into demo.things (id, name) values (1, 'a')`);
    const err = await h.db.execute(sql`insert into demo.things (id, name) values (2, 'a')`).catch((e) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(err, "things_name_key")).toBe(true);
    expect(isUniqueViolation(new Error("x"))).toBe(false);
    await h.close();
  });

  test("ensureDatabase creates a missing database and tolerates an existing one", async () => {
    const url = tdb.url.replace(tdb.name, `${tdb.name}_x`);
    await ensureDatabase(url);
    await ensureDatabase(url);
    const h = createDb({ url, schema: {} });
    expect(await h.ping()).toBe(true);
    await h.close();
    const admin = createDb({ url: tdb.url, schema: {} });
    await admin.client.unsafe(`drop database "${tdb.name}_x" with (force)`);
    await admin.close();
  });
});

describe("isStatementError", () => {
  test("a statement the server refused is one; a server that cannot be reached is not", async () => {
    const handle = createDb({ url: tdb.url, schema: {} });
    const failed = await handle.client`select 1/0`.catch((e: unknown) => e);
    expect(isStatementError(failed)).toBe(true);
    await handle.close();
    const down = createDb({ url: "postgres://postgres@127.0.0.1:1/none", schema: {} });
    const refused = await down.client`select 1`.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(isStatementError(refused)).toBe(false);
    await down.close();
  });
});

describe("transactions in traces", () => {
  test("a transaction inside a trace is a db.transaction span under it; one outside any trace records none", async () => {
    initTelemetry({ service: "db-test", recordSpans: true });
    const { db, close } = createDb({ url: tdb.url, schema: {}, name: "traced" });
    try {
      const activeName = () => (trace.getActiveSpan() as unknown as { name?: string } | undefined)?.name;
      const inside = await withSpan("pledge.created process", { kind: SpanKind.CONSUMER }, async () => {
        const outer = trace.getActiveSpan()?.spanContext();
        const seen = await db.transaction(async (tx) => {
          await tx.execute(sql`select 1`);
          const span = trace.getActiveSpan() as unknown as {
            name: string;
            parentSpanContext?: { spanId: string };
            attributes: Record<string, unknown>;
          };
          return { name: span.name, parent: span.parentSpanContext?.spanId, schema: span.attributes["db.namespace"] };
        });
        return { seen, outer };
      });
      expect(inside.seen).toEqual({ name: "db.transaction", parent: inside.outer?.spanId, schema: "traced" });
      // A poll serving no request or event (a relay tick) records nothing.
      expect(await db.transaction(async () => activeName())).toBeUndefined();
    } finally {
      await close();
    }
  });
});
