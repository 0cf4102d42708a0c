// Typed, fail-fast configuration: every service declares one TypeBox schema and validates
// the environment against it at start; all problems are reported at once.
import { type Static, type TObject, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { productionProblems } from "./secrets";

export { Type as T } from "@sinclair/typebox";

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses `env` against `schema` (applying defaults and string → number/boolean coercion). Throws
 * ConfigError listing every problem; with NODE_ENV=production that includes productionProblems.
 */
export function parseConfig<S extends TObject>(
  service: string,
  schema: S,
  env: Record<string, string | undefined>,
): Static<S> {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== "") input[key] = raw;
  }
  const withDefaults = Value.Default(schema, input);
  const converted = Value.Convert(schema, withDefaults);
  const problems = [...Value.Errors(schema, converted)].map((e) => {
    const key = e.path.replace(/^\//, "") || "(root)";
    return `${key}: ${e.message}${e.value === undefined ? " (missing)" : ""}`;
  });
  // Production refuses what development allows: unset secrets, development values (secrets.ts).
  const environment = (converted as { NODE_ENV?: unknown }).NODE_ENV ?? env.NODE_ENV;
  if (environment === "production") problems.push(...productionProblems(schema, env));
  if (problems.length > 0) throw new ConfigError(service, problems);
  return converted as Static<S>;
}

/** For main.ts: parse, or print every problem and exit non-zero. */
export function loadConfig<S extends TObject>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Static<S> {
  try {
    return parseConfig(service, schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** Fields every service shares. Spread into a service's own schema. */
export const commonConfig = {
  NODE_ENV: Type.Union([Type.Literal("development"), Type.Literal("test"), Type.Literal("production")], {
    default: "development",
  }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
    { default: "info" },
  ),
  HOST: Type.String({ default: "127.0.0.1" }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String()),
};

export const databaseConfig = {
  DATABASE_URL: Type.String({ pattern: "^postgres(ql)?://", default: "postgres://postgres@127.0.0.1:5432/careforall" }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
};

export const redisConfig = {
  REDIS_URL: Type.String({ pattern: "^rediss?://", default: "redis://127.0.0.1:6379" }),
  /** Prefix for every key, so parallel runs (tests) never collide. */
  REDIS_PREFIX: Type.String({ default: "cfa:" }),
};

export const natsConfig = {
  NATS_URL: Type.String({ default: "nats://127.0.0.1:4222" }),
  /** Prefix for stream, subject and consumer names, so parallel runs never collide. */
  BUS_PREFIX: Type.String({ pattern: "^[A-Za-z0-9_]+$", default: "cfa" }),
  /**
   * How long the stream recognises a re-published event id as a duplicate. Every service must use
   * the same value (each converges the stream on its own at start). Past it, a re-publish is
   * delivered again and the consumers' inboxes absorb it.
   */
  BUS_DUPLICATE_WINDOW_MS: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 120_000 }),
  /**
   * How long the stream keeps an event (hours; 0 = forever). Every service must use the same value
   * (each converges the stream on its own at start). Older events are gone from the stream (the
   * archiver keeps them in Elasticsearch); consumers' inbox rows are pruned behind it.
   */
  BUS_STREAM_MAX_AGE_HOURS: Type.Integer({ minimum: 0, maximum: 87_600, default: 720 }),
  /**
   * An inbox row is kept at least this long (hours), whatever the stream still holds: it covers a
   * service down for days whose outbox re-publishes an event after the duplicate window.
   */
  INBOX_MIN_RETENTION_HOURS: Type.Integer({ minimum: 1, maximum: 87_600, default: 168 }),
};

/** The settings of a service that calls the bank (pledge for grants, payment for holds). */
export const bankClientConfig = {
  BANK_URL: Type.String({ pattern: "^https?://", default: "http://127.0.0.1:3105" }),
  /** A bank call slower than this is an unknown outcome (retried with the same idempotency key, or asked about later). */
  BANK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
  /** Failed bank calls in a row (refused, reset, timed out) after which the bank is not called for a while. */
  BANK_BREAKER_FAILURES: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
  /** How long calls fail at once after that (no request sent), before one call tries the bank again. */
  BANK_RETRY_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 1_000 }),
};

/**
 * A service's identity towards the others (libs/http service-identity): its own Ed25519 key, and
 * the public keys of the services it accepts calls from.
 */
export const serviceIdentityConfig = {
  // Optional here so in-process tests can build an app without them; main.ts refuses to start
  // without them (identityFromConfig in libs/http).
  SERVICE_PRIVATE_KEY: Type.Optional(
    Type.String({ minLength: 32, description: "PKCS8 PEM of this service's own Ed25519 key" }),
  ),
  SERVICE_TRUSTED_KEYS: Type.Optional(
    Type.String({
      minLength: 2,
      description: "JSON object: service name → SPKI PEM of each service whose calls this one accepts",
    }),
  ),
};

export const jwtVerifyConfig = {
  JWT_PUBLIC_KEY: Type.String({ minLength: 32, description: "SPKI PEM of auth's Ed25519 signing key" }),
  JWT_ISSUER: Type.String({ default: "careforall-auth" }),
};

export type { Static };
export * from "./clock";
export * from "./secrets";
