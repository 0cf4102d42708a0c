// PostgreSQL access for every service: a drizzle + postgres.js factory (every transaction a
// CLIENT span when traced), the start-up migrator (serialised by an advisory lock so replicas can
// start together), and test-database helpers.

import { inRecordedTrace, SpanKind, withSpan } from "@careforall/telemetry";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";

export { sql } from "drizzle-orm";
export type { PostgresJsDatabase };

/** drizzle over postgres.js; `$client` is the pool itself, for hot statements prepared by name. */
export type Database<TSchema extends Record<string, unknown> = Record<string, never>> = PostgresJsDatabase<TSchema> & {
  $client: postgres.Sql;
};
/** The transaction handle drizzle passes to `db.transaction(fn)`. */
export type Tx<TSchema extends Record<string, unknown> = Record<string, never>> = Parameters<
  Parameters<Database<TSchema>["transaction"]>[0]
>[0];
/** Either a database or a transaction: helpers that must join the caller's transaction take this. */
export type Executor<TSchema extends Record<string, unknown> = Record<string, never>> = Database<TSchema> | Tx<TSchema>;

/** Seconds postgres.js waits before reconnecting a connection that failed (see createDb). */
export const RECONNECT_BACKOFF_SECONDS = 0.05;
/** Seconds to wait for a new connection before the query fails. */
const CONNECT_TIMEOUT_SECONDS = 3;

export interface DbHandle<TSchema extends Record<string, unknown>> {
  db: Database<TSchema>;
  client: postgres.Sql;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface CreateDbOptions<TSchema extends Record<string, unknown>> {
  url: string;
  schema: TSchema;
  max?: number;
  /** Application name shown in pg_stat_activity. */
  name?: string;
}

export function createDb<TSchema extends Record<string, unknown>>(
  options: CreateDbOptions<TSchema>,
): DbHandle<TSchema> {
  const client = postgres(options.url, {
    max: options.max ?? 10,
    idle_timeout: 30,
    // Short: a database that does not answer is reported (503) in seconds, not after a long hang.
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // postgres.js waits before reconnecting a connection that failed, up to 20 s and growing with
    // every failure (3^n / 100 s), and queries queued on it wait that long: with PostgreSQL down,
    // requests hung 19 s at the median (measured). A flat 50 ms makes them fail at once (503),
    // and lets them through again within 50 ms of PostgreSQL coming back.
    backoff: () => RECONNECT_BACKOFF_SECONDS,
    onnotice: () => {},
    connection: { application_name: options.name ?? "careforall" },
  });
  const db = traceTransactions(drizzle(client, { schema: options.schema }), options.name ?? "careforall");
  return {
    db,
    client,
    async ping() {
      await client`select 1`;
      return true;
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/** The attributes of a database span: the system and the schema (one per service). */
export function dbSpanAttributes(namespace: string) {
  return { "db.system.name": "postgresql", "db.namespace": namespace };
}

/**
 * Makes every `db.transaction(...)` a CLIENT span `db.transaction` (postgres.js has no
 * instrumentation of its own), as a child of whatever it serves: a transaction outside any trace
 * (a relay poll, a sweeper) and every transaction while spans are not recorded costs one check.
 */
export function traceTransactions<D extends { transaction: (...args: never[]) => Promise<unknown> }>(
  db: D,
  namespace: string,
): D {
  const transaction = db.transaction.bind(db) as (...args: unknown[]) => Promise<unknown>;
  const attributes = dbSpanAttributes(namespace);
  (db as { transaction: unknown }).transaction = (...args: unknown[]) =>
    inRecordedTrace()
      ? withSpan("db.transaction", { kind: SpanKind.CLIENT, attributes }, () => transaction(...args))
      : transaction(...args);
  return db;
}

/**
 * Applies a service's committed drizzle-kit migrations. The journal lives in the service's own
 * schema; an advisory lock makes concurrent starts (replicas, tests) apply each migration once.
 *
 * drizzle's own migrator is replaced by the same steps (same journal table, hashes and order, all
 * pending migrations in one transaction) for one reason: in production each service logs in as a
 * role that owns its schema and may not create schemas, and PostgreSQL checks that right before it
 * looks whether the schema exists, so `CREATE SCHEMA IF NOT EXISTS` fails even on an existing
 * schema. Here that statement is skipped when its schema exists (it would do nothing anyway).
 */
export async function migrate({
  url,
  migrationsFolder,
  schema,
}: {
  url: string;
  migrationsFolder: string;
  schema: string;
}): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder });
  // One dedicated connection, so the session-level advisory lock covers every statement.
  const client = postgres(url, { max: 1, onnotice: () => {} });
  const lockKey = `migrate:${schema}`;
  const journal = `${quoteIdent(schema)}."__migrations"`;
  const schemaExists = async (sql: postgres.Sql | postgres.TransactionSql, name: string) =>
    (await sql`select 1 from pg_namespace where nspname = ${name}`).length > 0;
  try {
    await client`select pg_advisory_lock(hashtext(${lockKey}))`;
    if (!(await schemaExists(client, schema))) await client.unsafe(`create schema if not exists ${quoteIdent(schema)}`);
    await client.unsafe(
      `create table if not exists ${journal} (id serial primary key, hash text not null, created_at bigint)`,
    );
    await client.begin(async (tx) => {
      // Read inside the transaction: on the embedded database every connection shares one session,
      // so the advisory lock above excludes nothing there, but transactions never overlap.
      const [last] = await tx.unsafe(`select created_at from ${journal} order by created_at desc limit 1`);
      const pending = migrations.filter((m) => !last || Number(last.created_at) < m.folderMillis);
      for (const migration of pending) {
        for (const statement of migration.sql) {
          if (statement.trim() === "") continue;
          const creates = createdSchemaIfMissing(statement);
          if (creates !== undefined && (await schemaExists(tx, creates))) continue;
          await tx.unsafe(statement);
        }
        await tx.unsafe(`insert into ${journal} ("hash", "created_at") values ($1, $2)`, [
          migration.hash,
          migration.folderMillis,
        ]);
      }
    });
  } finally {
    await client`select pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => {});
    await client.end({ timeout: 5 });
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The schema a statement that is only `CREATE SCHEMA IF NOT EXISTS x` (comments aside) names. */
function createdSchemaIfMissing(statement: string): string | undefined {
  const bare = statement.replace(/--[^\n]*/g, "").trim();
  const m = /^create\s+schema\s+if\s+not\s+exists\s+(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))\s*;?$/i.exec(bare);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]?.toLowerCase();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "postgres";
}

/** Creates the database named in `url` if it does not exist (development start-up). */
export async function ensureDatabase(url: string): Promise<void> {
  // The database answering is enough: a deployed service's role may neither connect to `postgres`
  // nor create databases, and needs neither when the database is there.
  const direct = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: CONNECT_TIMEOUT_SECONDS });
  try {
    await direct`select 1`;
    return;
  } catch (err) {
    // 3D000: the database does not exist (anything else is a real failure).
    if ((err as { code?: string }).code !== "3D000") throw err;
  } finally {
    await direct.end({ timeout: 5 });
  }
  const name = databaseName(url);
  const admin = postgres(withDatabase(url, "postgres"), { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`select 1 as ok from pg_database where datname = ${name}`;
    if (!row)
      await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`).catch((err: { code?: string }) => {
        // 42P04: another process created it between our check and our create.
        if (err.code !== "42P04") throw err;
      });
  } finally {
    await admin.end({ timeout: 5 });
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test file or run, so parallel runs never collide. On the
 * server of `base` (default TEST_DATABASE_URL, else the local trust-auth server).
 */
export async function createTestDatabase(
  label = "t",
  base = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
): Promise<TestDatabase> {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 20);
  const name = `cfa_test_${safe}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(withDatabase(base, "postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end({ timeout: 5 });
  return {
    url: withDatabase(base, name),
    name,
    async drop() {
      const a = postgres(withDatabase(base, "postgres"), { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end({ timeout: 5 });
    },
  };
}

/** Postgres error code for unique violations, for callers that map them to domain outcomes. */
export const UNIQUE_VIOLATION = "23505";

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint_name?: string; cause?: unknown };
  if (e?.code === UNIQUE_VIOLATION) return constraint === undefined || e.constraint_name === constraint;
  return e?.cause !== undefined && e.cause !== err ? isUniqueViolation(e.cause, constraint) : false;
}

/**
 * True when PostgreSQL itself answered with an error (a statement failed: a constraint, a bad
 * value, a deadlock), false for failures to reach it (refused, closed, timed out). Only the first
 * kind can be one statement's fault.
 */
export function isStatementError(err: unknown): boolean {
  if (err instanceof postgres.PostgresError) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err ? isStatementError(cause) : false;
}

export {
  createEmbeddedDatabase,
  createEmbeddedDatabaseThread,
  type EmbeddedDatabase,
  type EmbeddedDatabaseOptions,
  type EmbeddedDatabaseThread,
} from "./embedded";
export { createGroupCommit, type GroupCommit, type GroupCommitOptions } from "./group-commit";
