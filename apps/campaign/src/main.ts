// The campaign process: validate config, migrate, connect PostgreSQL and JetStream, start the
// outbox relay, listen, and shut down in order (server, relay, bus, pool).
import { join } from "node:path";
import { createJetStreamBus, exportBusMetrics, exportConsumerLag, jetStreamOptions } from "@careforall/bus";
import { loadConfig, systemClock } from "@careforall/config";
import { createDb, ensureDatabase, migrate } from "@careforall/db";
import { createHttpMetrics, identityFromConfig, serve } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { createOutboxRelay, exportOutboxLag } from "@careforall/outbox";
import { initTelemetry } from "@careforall/telemetry";
import { createCampaignApp } from "./app";
import { CampaignConfigSchema } from "./config";
import { outbox, schema } from "./db/schema";
import { createEndedCampaignCloser } from "./ended-campaigns";
import { createTotalsService } from "./totals";
import { startEndSweeper } from "./workers/end-sweeper";
import { startTotalsConsumer } from "./workers/totals-consumer";

const SERVICE = "campaign";

const config = loadConfig(SERVICE, CampaignConfigSchema);
const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
const telemetry = initTelemetry({ service: SERVICE, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });

await ensureDatabase(config.DATABASE_URL);
await migrate({
  url: config.DATABASE_URL,
  migrationsFolder: join(import.meta.dir, "db", "migrations"),
  schema: SERVICE,
});
const database = createDb({ url: config.DATABASE_URL, schema, max: config.DATABASE_POOL_MAX, name: SERVICE });
const bus = await createJetStreamBus({ ...jetStreamOptions(config), log });
const relay = createOutboxRelay({ db: database.db, table: outbox, bus, log });

const metrics = createHttpMetrics(SERVICE);
exportOutboxLag(metrics, relay);
exportBusMetrics(metrics, bus);

const app = createCampaignApp({
  identity: await identityFromConfig(SERVICE, config),
  db: database.db,
  clock: systemClock,
  config,
  log,
  metrics,
  checks: { nats: { check: () => bus.ping(), optional: true } },
  onCommitted: () => relay.kick(),
});

const totals = createTotalsService({ db: database.db, clock: systemClock, log, onCommitted: () => relay.kick() });
const totalsConsumer = await startTotalsConsumer(bus, totals);
const endSweeper = startEndSweeper(
  createEndedCampaignCloser({ db: database.db, clock: systemClock, onCommitted: () => relay.kick() }),
  log,
  config.END_SWEEP_INTERVAL_MS,
);
exportConsumerLag(metrics, { "campaign-totals": totalsConsumer });

relay.start();
serve(app, {
  port: config.PORT,
  hostname: config.HOST,
  log,
  onShutdown: [
    () => totalsConsumer.stop(),
    () => endSweeper.stop(),
    () => relay.stop(),
    () => bus.close(),
    () => database.close(),
    () => telemetry.shutdown(),
  ],
});
