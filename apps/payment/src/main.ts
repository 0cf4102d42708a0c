// The payment process: validate config, migrate, connect PostgreSQL, JetStream and the bank,
// start the outbox relay, the pledge consumers and the reconciler, listen, and shut down in
// order (server, consumers, reconciler, background drives, relay, bus, pool).
import { join } from "node:path";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, dependencyBreaker, identityFromConfig, serve } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { buildPaymentService, createPaymentApp } from "./app";
import { createBankClient } from "./bank-client";
import { backoffList, PaymentConfigSchema } from "./config";
import { outbox, schema } from "./db/schema";
import { createPledgeCreatedBatch } from "./pledge-created-batch";
import { DURABLES, startPledgeConsumers } from "./workers/pledge-consumers";
import { createReconciler } from "./workers/reconciler";

const SERVICE = "payment";

const config = loadConfig(SERVICE, PaymentConfigSchema);
const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
const telemetry = initTelemetry({ service: SERVICE, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });

try {
  await ensureDatabase(config.DATABASE_URL);
  await migrate({
    url: config.DATABASE_URL,
    migrationsFolder: join(import.meta.dir, "db", "migrations"),
    schema: SERVICE,
  });
  const database = createDb({ url: config.DATABASE_URL, schema, max: config.DATABASE_POOL_MAX, name: SERVICE });
  const bus = await createJetStreamBus({ ...jetStreamOptions(config), log, name: SERVICE });
  const relay = createOutboxRelay({ db: database.db, table: outbox, bus, log });
  const identity = await identityFromConfig(SERVICE, config);
  const bank = createBankClient({
    identity,
    url: config.BANK_URL,
    timeoutMs: config.BANK_TIMEOUT_MS,
    breaker: dependencyBreaker("bank", log, {
      openMs: config.BANK_RETRY_MS,
      failureThreshold: config.BANK_BREAKER_FAILURES,
    }),
  });

  const metrics = createHttpMetrics(SERVICE);
  exportOutboxLag(metrics, relay);
  exportBusMetrics(metrics, bus);

  const deps = {
    db: database.db,
    bank,
    clock: systemClock,
    config,
    log,
    metrics,
    onCommitted: () => relay.kick(),
  };
  const service = buildPaymentService(deps);
  const app = createPaymentApp({
    ...deps,
    identity,
    service,
    checks: { nats: { check: () => bus.ping(), optional: true } },
  });

  relay.start();
  const pledgeCreatedBatch = createPledgeCreatedBatch({ ...deps, service });
  const consumers = await startPledgeConsumers({
    bus,
    service,
    backoffMs: backoffList(config.RETRY_BACKOFF_MS),
    pledgeCreatedBatch: {
      handle: pledgeCreatedBatch,
      max: config.PLEDGE_BATCH_MAX,
      concurrency: config.PLEDGE_BATCH_CONCURRENCY,
    },
  });
  // startPledgeConsumers subscribes in this order: created, cancelled, refund requested.
  const durables = [DURABLES.pledgeCreated, DURABLES.pledgeCancelled, DURABLES.pledgeRefundRequested];
  exportConsumerLag(metrics, Object.fromEntries(consumers.map((c, i) => [durables[i] ?? `payment-${i}`, c])));
  const reconciler = createReconciler({ db: database.db, service, clock: systemClock, config, log });
  reconciler.start();

  serve(app, {
    port: config.PORT,
    hostname: config.HOST,
    log,
    onShutdown: [
      () => Promise.all(consumers.map((c) => c.stop())),
      () => reconciler.stop(),
      () => service.idle(),
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
