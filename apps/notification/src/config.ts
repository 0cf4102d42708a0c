// The notification service's environment schema, validated once at start (fail fast, every
// problem reported together): database, bus and fan-out, Redis (the session denylist), token
// verification, and the consumer's and stuck sweeper's timings.
import {
  commonConfig,
  databaseConfig,
  jwtVerifyConfig,
  natsConfig,
  redisConfig,
  type Static,
  serviceIdentityConfig,
  T,
} from "@careforall/config";

export const NotificationConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...redisConfig,
  ...jwtVerifyConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3106 }),
  /**
   * A pledge still pending or authorized this long after it was created is reported to admins as
   * pledge.stuck. Same default as the pledge service's STUCK_AFTER_SECONDS (the audit's count).
   */
  PLEDGE_STUCK_AFTER_SECONDS: T.Integer({ minimum: 1, default: 120 }),
  /** How often the stuck sweeper looks. */
  STUCK_SWEEP_INTERVAL_MS: T.Integer({ minimum: 50, maximum: 3_600_000, default: 5_000 }),
  /** Events applied in one transaction. */
  EVENTS_BATCH_MAX: T.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  /** After the first event of a batch, how long the consumer waits for more (pushes wait this long at most). */
  EVENTS_BATCH_WAIT_MS: T.Integer({ minimum: 0, maximum: 1000, default: 5 }),
});

export type NotificationConfig = Static<typeof NotificationConfigSchema>;
