// The chat service's environment schema, validated once at start (fail fast, every problem
// reported together): database, bus and fan-out (NATS), Redis (rate limits, ended sessions), tokens.
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

export const ChatConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...redisConfig,
  ...jwtVerifyConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3107 }),
  /** Messages one user may post in any 10-second window, all rooms together. 0 turns the limit off. */
  CHAT_RATE_PER_10S: T.Integer({ minimum: 0, maximum: 10_000, default: 10 }),
  /** How long Redis calls fail at once (limits fall back to per-process memory) after Redis stops answering. */
  REDIS_RETRY_MS: T.Integer({ minimum: 100, maximum: 60_000, default: 2_000 }),
});

export type ChatConfig = Static<typeof ChatConfigSchema>;
