// The auth service's environment schema: validated once at start (fail fast, every problem
// listed); defaults are the development set-up.
import {
  commonConfig,
  DEVELOPMENT_SECRETS,
  databaseConfig,
  natsConfig,
  redisConfig,
  Secret,
  type Static,
  serviceIdentityConfig,
  T,
} from "@careforall/config";

export const AuthConfigSchema = T.Object({
  ...commonConfig,
  ...serviceIdentityConfig,
  ...databaseConfig,
  ...natsConfig,
  /** The ended-session denylist every token verifier reads (auth writes it on logout and refresh-token reuse). */
  ...redisConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3101 }),
  /** PKCS8 PEM of the Ed25519 signing key; only auth holds it (invariant 6). `\n` escapes are accepted. */
  JWT_PRIVATE_KEY: T.String({ minLength: 32, description: "PKCS8 PEM of the Ed25519 signing key" }),
  /** SPKI PEM of the matching public key, published at /.well-known/jwks.json. */
  JWT_PUBLIC_KEY: T.String({ minLength: 32, description: "SPKI PEM of the Ed25519 public key" }),
  JWT_ISSUER: T.String({ minLength: 1, default: "careforall-auth" }),
  ACCESS_TOKEN_TTL_SECONDS: T.Integer({ minimum: 30, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_SECONDS: T.Integer({ minimum: 60, maximum: 365 * 86_400, default: 30 * 86_400 }),
  /** How often ended sessions are copied from PostgreSQL into the denylist again (repairs failed writes, an emptied Redis). */
  SESSION_DENYLIST_RESYNC_SECONDS: T.Integer({ minimum: 1, maximum: 3_600, default: 10 }),
  ADMIN_EMAIL: T.String({ pattern: "^[^@\\s]+@[^@\\s]+$", maxLength: 254, default: "admin@careforall.local" }),
  /** The development default is refused in production, as is one under 12 characters. */
  ADMIN_PASSWORD: Secret({
    development: DEVELOPMENT_SECRETS.ADMIN_PASSWORD,
    minLength: 8,
    maxLength: 128,
    productionMinLength: 12,
    description: "The ensured admin account's password",
  }),
  ADMIN_NAME: T.String({ minLength: 1, maxLength: 80, default: "Administrator" }),
  /** argon2id memory cost in KiB (OWASP: 19456); tests lower it for speed. */
  PASSWORD_HASH_MEMORY_KIB: T.Integer({ minimum: 4096, maximum: 1_048_576, default: 19_456 }),
});

export type AuthConfig = Static<typeof AuthConfigSchema>;
