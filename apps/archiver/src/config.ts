// The archiver's environment schema, validated once at start (fail fast, every problem reported
// together): the bus it reads every domain event from, the Elasticsearch it archives them into,
// and how it batches and retries. It has no database: the document id is its inbox (docs/operating/logs.md).
import { commonConfig, natsConfig, type Static, serviceIdentityConfig, T } from "@careforall/config";

export const ArchiverConfigSchema = T.Object({
  ...commonConfig,
  ...natsConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3108 }),
  /** e.g. http://elasticsearch:9200; required, no default (nothing to archive into otherwise). */
  ELASTICSEARCH_URL: T.String({ pattern: "^https?://[^\\s]+$" }),
  /** Basic authentication (both or neither); an API key is the alternative. */
  ELASTICSEARCH_USERNAME: T.Optional(T.String({ minLength: 1 })),
  ELASTICSEARCH_PASSWORD: T.Optional(T.String({ minLength: 1 })),
  /** An Elasticsearch API key (the base64 `id:api_key` form), instead of a user name and password. */
  ELASTICSEARCH_API_KEY: T.Optional(T.String({ minLength: 1 })),
  /** One bulk request slower than this is failed (its events are retried later). */
  ELASTICSEARCH_TIMEOUT_MS: T.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
  /** Immediate re-sends of a request answered 502/503/504 or lost on the way, before its events go back to the bus. */
  ELASTICSEARCH_MAX_RETRIES: T.Integer({ minimum: 0, maximum: 10, default: 2 }),
  /** Monthly indices `<prefix>-YYYY.MM`, by each event's occurredAt (UTC). */
  ARCHIVE_INDEX_PREFIX: T.String({ pattern: "^[a-z0-9][a-z0-9_-]*$", default: "careforall-events" }),
  /** Most events in one bulk request (and most events the consumer holds unacknowledged). */
  ARCHIVE_BATCH_MAX: T.Integer({ minimum: 1, maximum: 5_000, default: 500 }),
  /** After the first event of a bulk request, how long to wait for more before sending it. */
  ARCHIVE_BATCH_WAIT_MS: T.Integer({ minimum: 0, maximum: 10_000, default: 50 }),
  /**
   * Redelivery delays of an event Elasticsearch did not accept (429, 5xx, unreachable), in ms,
   * comma-separated; the last one repeats.
   */
  ARCHIVE_RETRY_BACKOFF_MS: T.String({ pattern: "^\\d+(,\\d+)*$", default: "500,1000,2000,5000,10000,30000" }),
  /**
   * Deliveries before the bus gives an event up (logged as bus.event_terminated). The default
   * rides out about three days of Elasticsearch being away at the last backoff step.
   */
  ARCHIVE_MAX_DELIVER: T.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
});

export type ArchiverConfig = Static<typeof ArchiverConfigSchema>;
