// Process entry for the auth service: validate config, migrate, wire PostgreSQL, JetStream and
// the outbox relay, ensure the admin account, then listen until SIGTERM/SIGINT.
import { join } from "node:path";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, serve } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { createAuthApp, ensureAdmin } from "./app";
import { AuthConfigSchema } from "./config";
import * as schema from "./db/schema";
import { loadSigningKeys } from "./keys";
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

  const deps = { db, clock: systemClock, config, log, onCommitted: () => relay.kick() };
  await ensureAdmin(deps, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD, name: config.ADMIN_NAME });

  serve(createAuthApp({ ...deps, keys, metrics }), {
    port: config.PORT,
    hostname: config.HOST,
    log,
    onShutdown: [
      () => bankAccounts.stop(),
      () => relay.stop(),
      () => bus.close(),
      () => db.close(),
      () => telemetry.shutdown(),
    ],
  });
} catch (err) {
  log.fatal({ err }, "service.start_failed");
  process.exit(1);
}
