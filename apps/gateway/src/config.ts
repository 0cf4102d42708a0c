// The gateway's environment schema: public port, upstream service URLs, shared infrastructure,
// rate limits (per minute; 0 turns one off) and the hot-path cache timings.
import { join } from "node:path";
import {
  commonConfig,
  jwtVerifyConfig,
  natsConfig,
  redisConfig,
  type Static,
  serviceIdentityConfig,
  T,
} from "@careforall/config";

export const GatewayConfigSchema = T.Object({
  ...commonConfig,
  ...redisConfig,
  ...natsConfig,
  ...jwtVerifyConfig,
  // The gateway only calls: its own key signs its calls; it accepts no service's calls.
  SERVICE_PRIVATE_KEY: serviceIdentityConfig.SERVICE_PRIVATE_KEY,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3000 }),
  AUTH_URL: T.String({ default: "http://127.0.0.1:3101" }),
  CAMPAIGN_URL: T.String({ default: "http://127.0.0.1:3102" }),
  PLEDGE_URL: T.String({ default: "http://127.0.0.1:3103" }),
  PAYMENT_URL: T.String({ default: "http://127.0.0.1:3104" }),
  BANK_URL: T.String({ default: "http://127.0.0.1:3105" }),
  NOTIFICATION_URL: T.String({ default: "http://127.0.0.1:3106" }),
  CHAT_URL: T.String({ default: "http://127.0.0.1:3107" }),
  UPSTREAM_TIMEOUT_MS: T.Integer({ minimum: 100, default: 10_000 }),
  RATE_LIMIT_AUTH: T.Integer({ minimum: 0, default: 20 }),
  /**
   * Failed logins a minute for one email from one IP address (RATE_LIMIT_AUTH bounds the failures
   * of each IP address across all emails). There is no per-email limit: anyone could spend it to
   * lock the owner out. 0 turns it off, and so does RATE_LIMIT_AUTH=0.
   */
  RATE_LIMIT_LOGIN_PER_ACCOUNT: T.Integer({ minimum: 0, default: 5 }),
  RATE_LIMIT_DEMO_ACCOUNTS: T.Integer({ minimum: 0, default: 10 }),
  RATE_LIMIT_PLEDGES: T.Integer({ minimum: 0, default: 30 }),
  /**
   * Pledges a minute from each fixed test account (acct_test_*), whoever sends them: anyone may
   * pay from those, so each is limited on its own. 0 turns it off, and so does RATE_LIMIT_PLEDGES=0.
   */
  RATE_LIMIT_TEST_ACCOUNT_PLEDGES: T.Integer({ minimum: 0, default: 10 }),
  /** Comma-separated peer addresses allowed to set X-Forwarded-For. */
  TRUSTED_PROXIES: T.String({ default: "" }),
  /** How long an in-process snapshot is served before it is re-checked against Redis/origin. */
  SNAPSHOT_LOCAL_TTL_MS: T.Integer({ minimum: 0, default: 2000 }),
  /**
   * After Redis fails, how long the gateway runs on its fallbacks (per-process rate limits,
   * snapshots from memory and the campaign service) before it tries Redis again.
   */
  REDIS_RETRY_MS: T.Integer({ minimum: 100, maximum: 60_000, default: 2_000 }),
  /** Failed calls in a row (refused, reset, timed out) after which an upstream service is refused at once. */
  UPSTREAM_BREAKER_FAILURES: T.Integer({ minimum: 1, maximum: 100, default: 3 }),
  /** How long an upstream service is refused at once before one call tries it again. */
  UPSTREAM_RETRY_MS: T.Integer({ minimum: 100, maximum: 60_000, default: 1_000 }),
  /** Lifetime of a snapshot in Redis; events refresh it long before. */
  SNAPSHOT_REDIS_TTL_SECONDS: T.Integer({ minimum: 1, default: 300 }),
  /** How often the money audit runs in the background to keep its drift gauge current (0: only on request). */
  AUDIT_INTERVAL_SECONDS: T.Integer({ minimum: 0, default: 30 }),
  /** Frames a second one WebSocket may send (bursts up to WS_FRAME_BURST); beyond: `rate_limited` error frames. */
  WS_FRAMES_PER_SECOND: T.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  WS_FRAME_BURST: T.Integer({ minimum: 1, maximum: 10_000, default: 40 }),
  /** Campaigns and pledges one WebSocket may follow at once. */
  WS_MAX_FOLLOWS: T.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  /** Chat rooms one WebSocket may be in at once. */
  WS_MAX_ROOMS: T.Integer({ minimum: 1, maximum: 1_000, default: 20 }),
  /** Seconds a WebSocket may stay silent (Bun pings it first) before it is closed. */
  WS_IDLE_TIMEOUT_SECONDS: T.Integer({ minimum: 5, maximum: 960, default: 60 }),
  /** Bytes queued for one slow reader before its socket is closed rather than buffered further. */
  WS_BACKPRESSURE_LIMIT_BYTES: T.Integer({ minimum: 64 * 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
  /** The web app's Vite build served at `/` (./cfa start builds it when missing or stale). */
  WEB_DIST_DIR: T.String({ default: join(import.meta.dir, "..", "..", "web", "dist") }),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;
