// The notification service as an Elysia app built from explicit dependencies; no I/O at import
// time. main.ts wires real ones (and starts the consumer and the stuck sweeper); tests build it in-process.
import type { Clock } from "@careforall/config";
import {
  type HttpMetrics,
  httpKit,
  type ReadinessChecks,
  type ServiceIdentity,
  type SessionDenylist,
  userGuard,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import type { NotificationConfig } from "./config";
import { createNotificationService } from "./notifications";
import { notificationRoutes } from "./routes/notifications";
import type { NotificationDb } from "./store";

export interface NotificationAppDeps {
  db: NotificationDb;
  clock: Clock;
  config: Pick<NotificationConfig, "JWT_PUBLIC_KEY" | "JWT_ISSUER">;
  log: Logger;
  /** Who notification is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Ended sessions (Redis, written by auth): their access tokens are refused here too. */
  denylist?: SessionDenylist;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
  /** Pass one to share /metrics with the consumer's counters and lag (main does). */
  metrics?: HttpMetrics;
}

export function createNotificationApp(deps: NotificationAppDeps) {
  const { db, clock, config, log } = deps;
  const guard = userGuard(config, { log, denylist: deps.denylist });
  return new Elysia()
    .use(
      httpKit({
        service: "notification",
        log,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(notificationRoutes({ service: createNotificationService({ db, clock }), guard }));
}

export type NotificationApp = ReturnType<typeof createNotificationApp>;
export { CONSUMED_EVENTS, createEventApplier, EVENTS_CONSUMER, type EventApplier } from "./apply-events";
export { type NotificationConfig, NotificationConfigSchema } from "./config";
export { NotificationModel } from "./model";
export { createPusher, type NotificationMetrics, notificationMetrics, type Pusher } from "./pushes";
export { createStuckSweep, type StuckSweep } from "./stuck-pledges";
export { startEventsConsumer } from "./workers/events-consumer";
export { startStuckSweeper } from "./workers/stuck-sweeper";
