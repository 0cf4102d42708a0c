// The payment service's environment schema, validated once at start (fail fast, every problem
// reported together). WEBHOOK_SECRET must equal the bank's; the dev defaults match.
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

const Ms = (def: number, description: string, minimum = 1) =>
  T.Integer({ minimum, maximum: 86_400_000, default: def, description });

export const PaymentConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...serviceIdentityConfig,
  ...jwtVerifyConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3104 }),
  ...bankClientConfig,
  /** Same value as the bank's WEBHOOK_SECRET (dev default identical; refused in production). */
  WEBHOOK_SECRET: Secret({
    development: DEVELOPMENT_SECRETS.WEBHOOK_SECRET,
    description: "Verifies the bank's webhook signatures",
  }),
  /**
   * Webhook calls with a bad or missing signature in one window (per replica) that raise ONE
   * payment.webhook_signature_failures event (then none until the window has passed).
   */
  WEBHOOK_SIGNATURE_ALARM_THRESHOLD: T.Integer({ minimum: 1, maximum: 1_000_000, default: 5 }),
  WEBHOOK_SIGNATURE_ALARM_WINDOW_SECONDS: T.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  RECONCILE_AFTER_MS: Ms(5000, "A payment waiting on the bank this long is reconciled"),
  RECONCILE_INTERVAL_MS: Ms(1000, "How often the reconciler looks for such payments"),
  PLEDGE_BATCH_MAX: T.Integer({
    minimum: 1,
    maximum: 500,
    default: 100,
    description: "pledge.created events per batch",
  }),
  PLEDGE_BATCH_CONCURRENCY: T.Integer({
    minimum: 1,
    maximum: 64,
    default: 4,
    description: "pledge.created batches at once",
  }),
  EVENT_ACK_WAIT_MS: Ms(
    60_000,
    "An event a replica took but did not settle in this long (it died) is redelivered to another; longer than a batch's bank calls",
    1000,
  ),
  /** Comma-separated delays (ms) before retrying after an unknown outcome; the last repeats. */
  RETRY_BACKOFF_MS: T.String({ pattern: "^\\d+(,\\d+)*$", default: "500,2000,5000,15000,30000" }),
});

export type PaymentConfig = Static<typeof PaymentConfigSchema>;

/** RETRY_BACKOFF_MS as numbers. */
export const backoffList = (value: string): number[] => value.split(",").map(Number);
