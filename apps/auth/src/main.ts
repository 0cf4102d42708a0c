// Process entry for the auth service: validate config, migrate, wire PostgreSQL, JetStream and
// the outbox relay, ensure the admin account, then listen until SIGTERM/SIGINT.
import { join } from "node:path";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { createRedisCache, createRedisClient } from "@careforall/cache";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, createSessionDenylist, identityFromConfig, serve } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { createPollingLoop } from "@careforall/worker";
import { createAuthApp, ensureAdmin } from "./app";
import { AuthConfigSchema } from "./config";
import * as schema from "./db/schema";
import { loadSigningKeys } from "./keys";
import { createEndedSessions } from "./sessions";
import { startBankAccountConsumer } from "./workers/bank-accounts";

const config = loadConfig("auth", AuthConfigSchema);
const log = createLogger({ service: "auth", level: config.LOG_LEVEL });
const telemetry = initTelemetry({ service: "auth", endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });

try {
  const keys = await loadSigningKeys({ privateKeyPem: config.JWT_PRIVATE_KEY, publicKeyPem: config.JWT_PUBLIC_KEY });

  await ensureDatabase(config.DATABASE_URL);
  await migrate({ url: config.DATABASE_URL, migrationsFolder: join(import.meta.dir, "db/migrations"), schema: "auth" });
  const db = createDb({ url: config.DATABASE_URL, schema, max: config.DATABASE_POOL_MAX, name: "auth" });

  const bus = await createJetStreamBus({ ...jetStreamOptions(config), log, name: "auth" });
  const relay = createOutboxRelay({ db: db.db, table: schema.outbox, bus, log });
  const metrics = createHttpMetrics("auth");
  exportOutboxLag(metrics, relay);
  exportBusMetrics(metrics, bus);
  relay.start();
  const bankAccounts = await startBankAccountConsumer(bus, db.db);
  exportConsumerLag(metrics, { "auth-bank-accounts": bankAccounts });

  // Ended sessions go to Redis, where every verifier reads them. Auth starts without Redis (logins
  // must not depend on it): the resync loop writes what it missed once Redis is back.
  const redis = createRedisClient(config.REDIS_URL);
  await redis.connect().catch((err) => log.warn({ dependency: "redis", err }, "dependency.unavailable_at_start"));
  const denylist = createSessionDenylist(createRedisCache(redis, config.REDIS_PREFIX));

  const deps = { db, clock: systemClock, config, log, denylist, onCommitted: () => relay.kick() };
  await ensureAdmin(deps, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD, name: config.ADMIN_NAME });

  const app = createAuthApp({ ...deps, keys, metrics, identity: await identityFromConfig("auth", config) });
  const endedSessions = createEndedSessions({
    db: db.db,
    clock: systemClock,
    log,
    denylist,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  let denylistDown = false;
  const resync = createPollingLoop({
    name: "auth.session_denylist_resync",
    log,
    intervalMs: config.SESSION_DENYLIST_RESYNC_SECONDS * 1000,
    async tick() {
      // An outage is logged when it starts and when it ends, not every interval.
      try {
        const written = await endedSessions.resync();
        if (denylistDown) log.info({ written }, "session_denylist.resynced");
        denylistDown = false;
      } catch (err) {
        if (!denylistDown) log.warn({ err }, "session_denylist.unavailable");
        denylistDown = true;
      }
      return false;
    },
  });
  resync.start();

  serve(app, {
    port: config.PORT,
    hostname: config.HOST,
    log,
    onShutdown: [
      () => resync.stop(),
      () => bankAccounts.stop(),
      () => relay.stop(),
      () => bus.close(),
      () => db.close(),
      () => redis.quit().then(() => undefined),
      () => telemetry.shutdown(),
    ],
  });
} catch (err) {
  log.fatal({ err }, "service.start_failed");
  process.exit(1);
}
