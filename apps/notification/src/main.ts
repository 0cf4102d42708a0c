// The notification process: the shared boot (config, PostgreSQL, JetStream, fan-out, Redis,
// metrics, listen, ordered stop) around notification's own parts — the events consumer that
// stores and pushes, and the stuck-pledge sweeper. All its state is in PostgreSQL; pushes go out
// after commit, so a killed process loses no stored notification and a redelivery pushes none twice.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { createSessionDenylist } from "@careforall/http";
import { createNotificationApp } from "./app";
import { createEventApplier } from "./apply-events";
import { NotificationConfigSchema } from "./config";
import { inbox, schema } from "./db/schema";
import { createPusher, notificationMetrics } from "./pushes";
import { createStuckSweep } from "./stuck-pledges";
import { startEventsConsumer } from "./workers/events-consumer";
import { startStuckSweeper } from "./workers/stuck-sweeper";

export const notificationService = defineService({
  name: "notification",
  config: NotificationConfigSchema,
  async start({
    config,
    log,
    clock,
    bus,
    metrics,
    identity,
    checks,
    database,
    pruneInbox,
    cache,
    fanout,
    consume,
    onStop,
  }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    pruneInbox({ db, table: inbox });
    const counters = notificationMetrics(metrics);
    const push = createPusher(await fanout(), counters, log);

    consume(
      await startEventsConsumer(bus, createEventApplier({ db, log, push, metrics: counters }), {
        maxBatch: config.EVENTS_BATCH_MAX,
        maxWaitMs: config.EVENTS_BATCH_WAIT_MS,
      }),
    );
    const sweeper = startStuckSweeper(
      createStuckSweep({ db, clock, push, metrics: counters, graceSeconds: config.PLEDGE_STUCK_AFTER_SECONDS }),
      log,
      config.STUCK_SWEEP_INTERVAL_MS,
    );
    onStop("stuck-sweeper", () => sweeper.stop());

    // The session denylist auth writes (Redis): a signed-out session's token reads nothing here.
    const denylist = createSessionDenylist((await cache()).cache);
    return createNotificationApp({ identity, db, clock, config, log, metrics, checks, denylist });
  },
});

export type { NotificationApp } from "./app";

if (import.meta.main) await runService(notificationService);
