// The bank simulator's environment schema, validated once at start (fail fast, every problem
// reported together). The BANK_* knobs are the chaos faults' values at start; PUT /bank/faults
// changes them at run time.
import {
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

/** Development defaults (refused in production); payment must verify with the same WEBHOOK_SECRET. */
export const DEV_WEBHOOK_SECRET = DEVELOPMENT_SECRETS.WEBHOOK_SECRET;
export const DEV_GRANT_SECRET = DEVELOPMENT_SECRETS.GRANT_SECRET;

const Rate = (description: string) => T.Number({ minimum: 0, maximum: 1, default: 0, description });
const Ms = (def: number, description: string, minimum = 0) =>
  T.Integer({ minimum, maximum: 86_400_000, default: def, description });

export const BankConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...serviceIdentityConfig,
  ...jwtVerifyConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3105 }),

  WEBHOOK_URL: T.String({ pattern: "^https?://", default: "http://127.0.0.1:3000/api/webhooks/bank" }),
  WEBHOOK_SECRET: Secret({ development: DEV_WEBHOOK_SECRET, description: "Signs the bank's webhooks" }),
  /** Signs the single-purpose grants POST /bank/grants issues and /bank/authorize checks. */
  GRANT_SECRET: Secret({ development: DEV_GRANT_SECRET, description: "Signs the bank's grants" }),
  GRANT_TTL_SECONDS: T.Integer({ minimum: 1, default: 24 * 3600 }),
  HOLD_TTL_SECONDS: T.Integer({ minimum: 1, default: 7 * 24 * 3600 }),
  DEMO_BALANCE_MINOR: T.Integer({ minimum: 0, default: 1_000_000 }),
  /**
   * The demo bank: POST /bank/accounts (demo accounts) and the fixed test accounts. Unset: on in
   * development and test, off in production (see demoBankOn).
   */
  DEMO_BANK: T.Optional(
    T.Union([T.Literal("on"), T.Literal("off")], { description: "Demo accounts and fixed test accounts" }),
  ),
  /**
   * The fixed test accounts hold DEMO_BALANCE_MINOR like a demo account; one drawn below it is
   * topped up to it at most once per this period, so it never pours more than that into campaigns.
   */
  TEST_ACCOUNT_REFILL_SECONDS: T.Integer({ minimum: 1, maximum: 7 * 86_400, default: 3_600 }),
  SLOW_ACCOUNT_DELAY_MS: Ms(3000, "How long acct_test_slow takes to answer /bank/authorize"),

  BANK_ERROR_RATE: Rate("Share of money calls answered 503 before doing anything"),
  BANK_LOST_RESPONSE_RATE: Rate("Share of money calls that commit, then answer 5xx"),
  BANK_LATENCY_MS: Ms(0, "Delay before every money call"),
  BANK_WEBHOOK_DUPLICATE_RATE: Rate("Share of webhooks sent twice"),
  BANK_WEBHOOK_REORDER: T.Boolean({ default: false, description: "Hold back some webhooks so later ones overtake" }),
  BANK_WEBHOOK_DROP_RATE: Rate("Share of webhooks marked delivered without being sent"),

  WEBHOOK_BASE_BACKOFF_MS: Ms(500, "First retry delay of a failed webhook", 1),
  WEBHOOK_MAX_BACKOFF_MS: Ms(60_000, "Cap of the exponential webhook retry delay", 1),
  WEBHOOK_TIMEOUT_MS: Ms(5000, "Per-attempt webhook request timeout", 1),
  /** How long webhookReorder holds a delivery back (once), so deliveries queued after it overtake it. */
  WEBHOOK_REORDER_DELAY_MS: Ms(2000, "Hold-back of a reordered webhook"),
  WEBHOOK_POLL_MS: Ms(250, "Idle poll of the webhook sender", 1),
  /** Events per webhook POST: 1 sends each event alone; more sends `{ "events": [ … ] }` signed as a whole. */
  WEBHOOK_BATCH_MAX: T.Integer({ minimum: 1, maximum: 100, default: 100, description: "Events per webhook POST" }),
  SWEEP_INTERVAL_MS: Ms(5000, "Hold expiry sweep interval", 1),
  /** Replicas pick up a PUT /bank/faults made on another replica within this interval. */
  FAULTS_SYNC_MS: Ms(1000, "Fault settings refresh interval", 1),
});

export type BankConfig = Static<typeof BankConfigSchema>;

/** Whether the demo bank is open: DEMO_BANK when set, otherwise everywhere but production. */
export const demoBankOn = (config: Pick<BankConfig, "DEMO_BANK" | "NODE_ENV">): boolean =>
  config.DEMO_BANK === undefined ? config.NODE_ENV !== "production" : config.DEMO_BANK === "on";
