// The pledge service's environment schema, validated once at start (fail fast, every problem
// reported together): database, bus, token verification, the bank seam and idempotency timings.
import {
  bankClientConfig,
  commonConfig,
  DEVELOPMENT_SECRETS,
  databaseConfig,
  jwtVerifyConfig,
  natsConfig,
  Secret,
  type Static,
  serviceIdentityConfig,
  T,
} from "@careforall/config";

export const PledgeConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...jwtVerifyConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3103 }),
  ...bankClientConfig,
  /**
   * Keys the HMAC that turns a guest's email into their donor key (and idempotency scope), so the
   * key cannot be recomputed from a guessed address. Changing it makes returning guests new donors.
   */
  DONOR_KEY_SECRET: Secret({
    development: DEVELOPMENT_SECRETS.DONOR_KEY_SECRET,
    description: "HMAC key of guests' donor keys",
  }),
  /** How long a bank grant for the same (account, secret or owner) is reused; 0 asks the bank every time. */
  GRANT_CACHE_SECONDS: T.Integer({ minimum: 0, maximum: 3600, default: 300 }),
  /** How long a finished Idempotency-Key keeps its answer (the contract promises at least 24 hours). */
  IDEMPOTENCY_TTL_HOURS: T.Integer({ minimum: 24, maximum: 24 * 30, default: 24 }),
  /**
   * An in-flight key whose request died (process killed between phases) may be taken over by a
   * retry of the same request after this long. Must exceed BANK_TIMEOUT_MS plus two short transactions.
   */
  IDEMPOTENCY_LOCK_SECONDS: T.Integer({ minimum: 10, maximum: 3_600, default: 60 }),
  /**
   * Group commit of accepts: while this many accept statements are in flight, further accepts
   * wait and leave together as one statement (one round trip, one commit for the batch). An
   * accept that finds a free slot goes at once. Keep it below DATABASE_POOL_MAX.
   */
  ACCEPT_BATCH_CONCURRENCY: T.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** The most accepts one statement carries. 1 turns group commit off (one statement per accept). */
  ACCEPT_BATCH_MAX: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  /**
   * The longest a donation waits for its accept statement, queue included: past it the donor gets
   * 503 with Retry-After (a hung PostgreSQL must not hang donors). The statement may still commit;
   * the donor's retry with the same Idempotency-Key then finds its answer.
   */
  ACCEPT_DEADLINE_MS: T.Integer({ minimum: 100, maximum: 60_000, default: 3_000 }),
  /**
   * After 3 accepts in a row fail because PostgreSQL is unreachable or past the deadline, accepts
   * are answered 503 at once for this long (nothing queued), then one tries again.
   */
  DATABASE_RETRY_MS: T.Integer({ minimum: 100, maximum: 60_000, default: 1_000 }),
  /** Grace period before a non-terminal pledge counts as stuck in /admin/ledger (the audit). */
  STUCK_AFTER_SECONDS: T.Integer({ minimum: 1, default: 120 }),
  /**
   * Burst absorption: while pledges are accepted faster than this many per second, their events
   * wait in the outbox (up to OUTBOX_BURST_HOLD_MS) instead of starting the payment pipeline at
   * once, so the burst keeps the machine for accepting and is drained afterwards in full batches.
   * Above about this rate the pipeline could not keep up anyway. 0 turns it off.
   */
  OUTBOX_BURST_RATE: T.Integer({ minimum: 0, default: 200 }),
  /** The longest an event waits during a burst; under a sustained load the pipeline runs this far behind. */
  OUTBOX_BURST_HOLD_MS: T.Integer({ minimum: 0, maximum: 600_000, default: 15_000 }),
  /**
   * Test-only switch: false keeps the outbox relay from starting, so committed events stay in the
   * outbox (the crash test kills the process in that window). Never turn it off in production.
   */
  OUTBOX_RELAY_ENABLED: T.Boolean({ default: true }),
});

export type PledgeConfig = Static<typeof PledgeConfigSchema>;
