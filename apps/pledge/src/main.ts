// The pledge process: validate config, migrate, connect PostgreSQL and JetStream, build the bank
// seam (Eden, with a timeout), start the outbox relay, the payment and campaign consumers and the
// key sweeper, listen, and shut down in order (server, consumers, workers, relay, bus, pool).
import { join } from "node:path";
import type { BankApp } from "@careforall/bank";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, guardedFetch, identityFromConfig, serve, serviceFetch } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { treaty } from "@elysiajs/eden";
import { createPledgeApp } from "./app";
import { cachingSourceVerifier, createEdenSourceVerifier } from "./bank-client";
import { PledgeConfigSchema } from "./config";
import { outbox, schema } from "./db/schema";
import { createPledgeService } from "./service";
import { startCampaignConsumer } from "./workers/campaign-events";
import { startIdempotencySweeper } from "./workers/idempotency-sweeper";
import { startPaymentConsumer } from "./workers/payment-events";

const SERVICE = "pledge";

const config = loadConfig(SERVICE, PledgeConfigSchema);
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
  const relay = createOutboxRelay({
    db: database.db,
    table: outbox,
    bus,
    log,
    burst: { ratePerSec: config.OUTBOX_BURST_RATE, holdMs: config.OUTBOX_BURST_HOLD_MS },
  });

  const metrics = createHttpMetrics(SERVICE);
  const identity = await identityFromConfig(SERVICE, config);
  exportOutboxLag(metrics, relay);
  exportBusMetrics(metrics, bus);

  const verifier = cachingSourceVerifier(
    createEdenSourceVerifier(
      // A bank that stops answering costs BANK_TIMEOUT_MS for the first few donors only: after
      // BANK_BREAKER_FAILURES failed calls in a row, new sources get 503 at once for BANK_RETRY_MS.
      treaty<BankApp>(config.BANK_URL, {
        parseDate: false,
        fetcher: serviceFetch(
          identity,
          "bank",
          guardedFetch("bank", log, {
            timeoutMs: config.BANK_TIMEOUT_MS,
            openMs: config.BANK_RETRY_MS,
            failureThreshold: config.BANK_BREAKER_FAILURES,
          }),
        ),
      }),
      log,
    ),
    { ttlMs: config.GRANT_CACHE_SECONDS * 1000 },
  );
  const onCommitted = () => relay.kick();
  const app = createPledgeApp({
    identity,
    db: database.db,
    verifier,
    clock: systemClock,
    config,
    log,
    metrics,
    checks: { nats: { check: () => bus.ping(), optional: true } },
    onCommitted,
  });

  const consumerDeps = { db: database.db, clock: systemClock, log, onCommitted };
  const consumers = await Promise.all([
    startPaymentConsumer(bus, consumerDeps),
    startCampaignConsumer(bus, consumerDeps),
  ]);
  exportConsumerLag(metrics, { "pledge-payments": consumers[0], "pledge-campaigns": consumers[1] });
  const sweeper = startIdempotencySweeper(
    createPledgeService({ db: database.db, verifier, clock: systemClock, log, config }),
    log,
  );
  if (config.OUTBOX_RELAY_ENABLED) relay.start();
  else log.warn("outbox.relay_disabled");

  serve(app, {
    port: config.PORT,
    hostname: config.HOST,
    log,
    onShutdown: [
      () => Promise.all(consumers.map((c) => c.stop())),
      () => sweeper.stop(),
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
