// The parts every service's in-process test harness builds the same way: a fresh database with the
// service's migrations applied and a pool on it, test users, and a recorder of what a fan-out carries.
import type { Fanout } from "@careforall/bus";
import { createDb, createTestDatabase, type Database, migrate } from "@careforall/db";
import type { TestPrincipal } from "./index";

/** A person as access tokens name them; the email is made of the name's letters, so it is always valid. */
export function testUser(name: string, role: TestPrincipal["role"] = "donor"): TestPrincipal {
  return {
    id: Bun.randomUUIDv7(),
    email: `${name.toLowerCase().replace(/[^a-z]/g, "") || "user"}@example.test`,
    name,
    role,
  };
}

/** Every frame `fanout` carries on `topic` from now on, parsed; `stop` unsubscribes. */
export function recordFrames(fanout: Fanout, topic: string) {
  const frames: Array<Record<string, unknown>> = [];
  const stop = fanout.subscribe(topic, (json) => frames.push(JSON.parse(json)));
  return { frames, stop };
}

export interface MigratedTestDatabaseOptions<TSchema extends Record<string, unknown>> {
  /** The service: names the database, the pool (`<label>-test`) and, by default, the PG schema. */
  label: string;
  migrationsFolder: string;
  /** The drizzle schema the pool is typed with. */
  schema: TSchema;
  /** The PostgreSQL schema the migrations create (default: `label`). */
  pgSchema?: string;
  max?: number;
}

/** A fresh database with the service's migrations applied and a pool on it; `drop` closes both. */
export async function migratedTestDatabase<TSchema extends Record<string, unknown>>(
  options: MigratedTestDatabaseOptions<TSchema>,
): Promise<{ url: string; db: Database<TSchema>; drop(): Promise<void> }> {
  const database = await createTestDatabase(options.label);
  try {
    await migrate({
      url: database.url,
      migrationsFolder: options.migrationsFolder,
      schema: options.pgSchema ?? options.label,
    });
  } catch (err) {
    await database.drop();
    throw err;
  }
  const handle = createDb({
    url: database.url,
    schema: options.schema,
    max: options.max ?? 12,
    name: `${options.label}-test`,
  });
  return {
    url: database.url,
    db: handle.db,
    async drop() {
      await handle.close();
      await database.drop();
    },
  };
}
