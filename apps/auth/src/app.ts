// The auth service as an Elysia app built from its dependencies (no I/O at import time).
// The gateway builds its Eden Treaty client from `AuthApp`, so the route chain stays inferable.
import type { Clock } from "@careforall/config";
import {
  authGuard,
  createHttpMetrics,
  createTokenVerifier,
  type HttpMetrics,
  httpKit,
  normalisePem,
  type ReadinessChecks,
  type ServiceIdentity,
  type SessionDenylist,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { Elysia } from "elysia";
import type { SigningKeys } from "./keys";
import { authRoutes, jwksRoutes, userRoutes } from "./routes";
import { type AdminAccount, type AuthDatabase, type AuthServiceConfig, createAuthService } from "./service";

export { type AuthConfig, AuthConfigSchema } from "./config";
export * as authDbSchema from "./db/schema";
export { loadSigningKeys, type SigningKeys } from "./keys";
export { AuthModel } from "./model";
export { type AdminAccount, type AuthDatabase, type AuthService, createAuthService } from "./service";

export interface AuthDeps {
  /** Auth's database handle; `ping` backs /ready. */
  db: { db: AuthDatabase; ping(): Promise<unknown> };
  clock: Clock;
  config: AuthServiceConfig;
  log: Logger;
  /** Who auth is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Pre-loaded signing keys; imported from config.JWT_PRIVATE_KEY / JWT_PUBLIC_KEY when omitted. */
  keys?: SigningKeys | Promise<SigningKeys>;
  metrics?: HttpMetrics;
  /** Called after every commit that wrote outbox events; main.ts passes `relay.kick`. */
  onCommitted?: () => void;
  /** Ended sessions, written on logout and refresh-token reuse, read by every verifier (Redis in main.ts). */
  denylist?: SessionDenylist;
  /** Extra /ready checks (main adds the bus); postgres is always checked. */
  checks?: ReadinessChecks;
}

export function createAuthApp(deps: AuthDeps) {
  const metrics = deps.metrics ?? createHttpMetrics("auth");
  const service = createAuthService({ ...deps, db: deps.db.db, metrics });
  const verifier = createTokenVerifier({
    publicKeyPem: normalisePem(deps.config.JWT_PUBLIC_KEY),
    issuer: deps.config.JWT_ISSUER,
    ...(deps.denylist ? { denylist: deps.denylist } : {}),
    log: deps.log,
  });
  return new Elysia()
    .use(
      httpKit({
        service: "auth",
        log: deps.log,
        metrics,
        checks: { postgres: () => deps.db.ping(), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(authGuard(verifier))
    .use(authRoutes(service))
    .use(userRoutes(service, verifier))
    .use(jwksRoutes(service));
}

export type AuthApp = ReturnType<typeof createAuthApp>;

/** Start-up step: the configured admin account exists with role admin (idempotent). */
export function ensureAdmin(
  deps: Omit<AuthDeps, "keys" | "metrics" | "identity" | "checks">,
  admin: AdminAccount,
): ReturnType<ReturnType<typeof createAuthService>["ensureAdmin"]> {
  return createAuthService({ ...deps, db: deps.db.db }).ensureAdmin(admin);
}
