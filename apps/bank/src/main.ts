// The bank process: validate config, migrate, connect PostgreSQL and JetStream, ensure the system
// and test accounts, start the outbox relay, the consumers, the expiry sweeper and the webhook
// sender, listen, and shut down in order (server, workers, bus, pool).
import { join } from "node:path";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, identityFromConfig, serve } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { createBankApp } from "./app";
import { BankConfigSchema, demoBankOn } from "./config";
import { createBankConsumers } from "./consumers";
import { outbox, schema } from "./db/schema";
import { faultsFromConfig } from "./domain";
import { createFaultStore } from "./faults";
import { ensureFixedAccounts } from "./ledger";
import { bankMetrics } from "./metrics";
import { createExpirySweeper } from "./workers/expiry-sweeper";
import { createWebhookSender } from "./workers/webhook-sender";

const SERVICE = "bank";

const config = loadConfig(SERVICE, BankConfigSchema);
const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
const telemetry = initTelemetry({ service: SERVICE, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });

try {
  const identity = await identityFromConfig(SERVICE, config);
  await ensureDatabase(config.DATABASE_URL);
  await migrate({
    url: config.DATABASE_URL,
    migrationsFolder: join(import.meta.dir, "db", "migrations"),
    schema: SERVICE,
  });
  const database = createDb({ url: config.DATABASE_URL, schema, max: config.DATABASE_POOL_MAX, name: SERVICE });
  const db = database.db;
  const bus = await createJetStreamBus({ ...jetStreamOptions(config), log, name: SERVICE });
  const relay = createOutboxRelay({ db, table: outbox, bus, log });

  const metrics = createHttpMetrics(SERVICE);
  exportOutboxLag(metrics, relay);
  exportBusMetrics(metrics, bus);

  // The BANK_* environment is the knobs' value at start; PUT /bank/faults changes them until the next start.
  const faults = createFaultStore({ db, initial: faultsFromConfig(config) });
  await faults.replace(faultsFromConfig(config));
  faults.startSync(config.FAULTS_SYNC_MS, log);

  await ensureFixedAccounts(db, systemClock, {
    demoBalanceMinor: config.DEMO_BALANCE_MINOR,
    demoBank: demoBankOn(config),
  });

  const sender = createWebhookSender({
    db,
    clock: systemClock,
    log,
    faults,
    random: Math.random,
    metrics: bankMetrics(metrics, db),
    config,
  });
  const onCommitted = () => {
    relay.kick();
    sender.kick();
  };
  const sweeper = createExpirySweeper({
    db,
    clock: systemClock,
    log,
    intervalMs: config.SWEEP_INTERVAL_MS,
    onCommitted: () => sender.kick(),
  });
  const consumers = createBankConsumers({ db, clock: systemClock, log, config, onCommitted });

  const app = createBankApp({
    identity,
    db,
    clock: systemClock,
    config,
    log,
    metrics,
    faults,
    onCommitted,
    checks: { nats: { check: () => bus.ping(), optional: true } },
  });

  relay.start();
  sender.start();
  sweeper.start();
  const subscriptions = await consumers.subscribe(bus);
  exportConsumerLag(metrics, subscriptions);

  serve(app, {
    port: config.PORT,
    hostname: config.HOST,
    log,
    onShutdown: [
      () => Promise.all(Object.values(subscriptions).map((s) => s.stop())),
      () => sweeper.stop(),
      () => sender.stop(),
      () => faults.stop(),
      () => relay.stop(),
      () => bus.close(),
      () => database.close(),
      () => telemetry.shutdown(),
    ],
  });
} catch (err) {
  log.fatal({ err }, "service.start_failed");
  process.exit(1);
}
