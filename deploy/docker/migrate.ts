// The one-shot migrator of compose.yaml (`migrate` target of deploy/docker/Dockerfile): applies
// every service's committed migrations before any service starts, each as that service's own
// PostgreSQL role (the role owns its schema; deploy/postgres/roles.psql), from
// `<APP>_DATABASE_URL` (AUTH_DATABASE_URL, PLEDGE_DATABASE_URL, …). The services still migrate at
// start (nothing is left to apply then; `migrate` takes an advisory lock per schema, so replicas
// never race); this makes a failed migration stop the deployment before a replica serves
// traffic, and shows it in one place (`docker compose logs migrate`).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDatabase, migrate } from "@careforall/db";
import { createLogger, type Logger } from "@careforall/log";

const APPS_DIR = join(import.meta.dir, "..", "..", "apps");

/** The services with migrations: every apps/<app>/src/db/migrations, in name order. */
export function servicesWithMigrations(appsDir = APPS_DIR): string[] {
  return readdirSync(appsDir)
    .filter((app) => existsSync(join(appsDir, app, "src", "db", "migrations", "meta", "_journal.json")))
    .sort();
}

/** The variable holding a service's connection URL for the migrator. */
export const urlVariable = (app: string) => `${app.toUpperCase()}_DATABASE_URL`;

export interface MigrateAllOptions {
  env: Record<string, string | undefined>;
  log: Logger;
  appsDir?: string;
  /** How long to keep retrying a connection that is refused (PostgreSQL still starting). */
  connectDeadlineMs?: number;
}

/** Applies every service's migrations; throws naming the missing variables or the failing service. */
export async function migrateAll({
  env,
  log,
  appsDir = APPS_DIR,
  connectDeadlineMs = 60_000,
}: MigrateAllOptions): Promise<string[]> {
  const apps = servicesWithMigrations(appsDir);
  const missing = apps.map(urlVariable).filter((v) => !env[v]);
  if (missing.length > 0) throw new Error(`not set: ${missing.join(", ")}`);
  for (const app of apps) {
    const url = env[urlVariable(app)] as string;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureDatabase(url);
        break;
      } catch (err) {
        const code = (err as { code?: string }).code;
        const transient = code === "ECONNREFUSED" || code === "57P03" || code === "ENOTFOUND";
        if (!transient || Date.now() - started > connectDeadlineMs) throw err;
        log.warn({ schema: app, attempt, code }, "migrate.waiting_for_postgres");
        await Bun.sleep(1_000);
      }
    }
    await migrate({ url, migrationsFolder: join(appsDir, app, "src", "db", "migrations"), schema: app });
    log.info({ schema: app, ms: Date.now() - started }, "migrate.applied");
  }
  return apps;
}

if (import.meta.main) {
  const log = createLogger({ service: "migrate" });
  try {
    const apps = await migrateAll({ env: process.env, log });
    log.info({ schemas: apps }, "migrate.done");
  } catch (err) {
    log.error({ err }, "migrate.failed");
    process.exit(1);
  }
}
