// Access-token verification for every service. Only auth holds the Ed25519 private key;
// everyone else verifies with the public key (invariant 6: only auth can mint tokens).
// Ended sessions: auth records a session id (`sid`, the refresh family) in a denylist when the
// session ends (logout, refresh-token reuse); a verifier given the denylist refuses that
// session's access tokens until they would have expired anyway.
import type { Logger } from "@careforall/log";
import { Elysia } from "elysia";
import { importSPKI, type JWTPayload, jwtVerify } from "jose";
import { forbidden, serviceUnavailable, unauthorized } from "./errors";

export type Role = "donor" | "admin";

export interface Principal {
  id: string;
  email: string;
  name: string;
  role: Role;
  /** The session (refresh-token family) the access token belongs to; absent on tokens minted before sessions had ids. */
  sessionId?: string;
}

export const JWT_ALG = "EdDSA";

/** Environment variables often carry PEMs with literal `\n`; turn them back into newlines. */
export function normalisePem(pem: string): string {
  return pem.replaceAll("\\n", "\n").trim();
}

/**
 * What a verifier does when the denylist cannot answer (Redis away):
 * - `allow`: accept the token, with a logged warning (reads: the worst case is a revoked token
 *   reading its own owner's data for at most an access token's lifetime);
 * - `refuse`: 503 with Retry-After (writes: a revoked token must not move money or change state).
 */
export type WhenDenylistUnavailable = "allow" | "refuse";

export interface VerifyOptions {
  /** Default `refuse`: a caller that does not say gets the safe rule. */
  whenDenylistUnavailable?: WhenDenylistUnavailable;
}

export interface TokenVerifier {
  verify(token: string, options?: VerifyOptions): Promise<Principal>;
}

/** The two calls of a key-value store the denylist needs (@careforall/cache's Cache has them). */
export interface DenylistStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
}

/**
 * Sessions that have ended. Written by auth alone (the only one that knows when a session ends),
 * read by every verifier. Entries live as long as an access token can, so the list never grows
 * past the sessions ended in the last access-token lifetime.
 */
export interface SessionDenylist {
  /** Records the sessions as ended for `ttlSeconds`. Throws when the store cannot be written. */
  revoke(sessionIds: readonly string[], ttlSeconds: number): Promise<void>;
  /** Whether the session has ended. Throws when the store cannot answer. */
  isRevoked(sessionId: string): Promise<boolean>;
}

export const sessionDenylistKey = (sessionId: string) => `session:revoked:${sessionId}`;

/** A SessionDenylist over a key-value store (Redis in production, memory in unit tests). */
export function createSessionDenylist(store: DenylistStore): SessionDenylist {
  return {
    async revoke(sessionIds, ttlSeconds) {
      await Promise.all(sessionIds.map((sid) => store.set(sessionDenylistKey(sid), "1", Math.max(1, ttlSeconds))));
    },
    async isRevoked(sessionId) {
      return (await store.get(sessionDenylistKey(sessionId))) !== null;
    },
  };
}

/** How often a denylist outage is logged (per verifier), not once per request. */
const DENYLIST_WARN_INTERVAL_MS = 10_000;
const DENYLIST_RETRY_AFTER_SECONDS = 2;

export interface TokenVerifierOptions {
  publicKeyPem: string;
  issuer: string;
  /** When given, a token whose session has ended is refused with 401. */
  denylist?: SessionDenylist;
  /** Where a denylist outage is reported (once per 10 s). */
  log?: Logger;
}

export function createTokenVerifier({ publicKeyPem, issuer, denylist, log }: TokenVerifierOptions): TokenVerifier {
  const key = importSPKI(publicKeyPem, JWT_ALG);
  let warnedAt = 0;

  async function sessionEnded(sessionId: string, when: WhenDenylistUnavailable): Promise<boolean> {
    if (!denylist) return false;
    try {
      return await denylist.isRevoked(sessionId);
    } catch (err) {
      const now = Date.now();
      if (now - warnedAt >= DENYLIST_WARN_INTERVAL_MS) {
        warnedAt = now;
        log?.warn({ err, dependency: "session-denylist", rule: when }, "session_denylist.unavailable");
      }
      if (when === "allow") return false;
      throw serviceUnavailable(
        "Your session cannot be checked right now; try again shortly",
        (err as { retryAfterSeconds?: number })?.retryAfterSeconds ?? DENYLIST_RETRY_AFTER_SECONDS,
      );
    }
  }

  return {
    async verify(token, options = {}) {
      let payload: JWTPayload;
      try {
        // The algorithm list is fixed: `alg: none` and HS256-with-the-public-key forgeries are refused.
        ({ payload } = await jwtVerify(token, await key, {
          algorithms: [JWT_ALG],
          issuer,
          requiredClaims: ["sub", "exp"],
        }));
      } catch {
        throw unauthorized("The access token is invalid or expired");
      }
      const { sub, email, name, role, sid } = payload as JWTPayload & {
        email?: unknown;
        name?: unknown;
        role?: unknown;
        sid?: unknown;
      };
      if (
        typeof sub !== "string" ||
        typeof email !== "string" ||
        (role !== "donor" && role !== "admin") ||
        (sid !== undefined && typeof sid !== "string")
      ) {
        throw unauthorized("The access token is malformed");
      }
      if (sid !== undefined && (await sessionEnded(sid, options.whenDenylistUnavailable ?? "refuse"))) {
        throw unauthorized("The session has ended; sign in again");
      }
      return {
        id: sub,
        email,
        name: typeof name === "string" ? name : "",
        role,
        ...(sid !== undefined ? { sessionId: sid } : {}),
      };
    },
  };
}

export function bearerToken(authorization: string | undefined | null): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  return match?.[1] ?? null;
}

/** Methods that change nothing: a denylist outage lets their tokens through (see WhenDenylistUnavailable). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The outage rule for a request: reads fail open, anything that may change state fails closed. */
export function denylistRuleFor(method: string): WhenDenylistUnavailable {
  return SAFE_METHODS.has(method) ? "allow" : "refuse";
}

/**
 * Route options for access control, each resolving who is calling:
 * - `auth: true` — signed in (else 401); `principal: Principal`
 * - `admin: true` — signed in as an admin (401 / 403); `principal: Principal`
 * - `optionalAuth: true` — a guest or a signed-in user; `viewer: Principal | null` (a bad token is still 401)
 * A token of an ended session is a bad token (401). When the verifier's denylist cannot answer,
 * reads go through and writes are refused with 503 (denylistRuleFor).
 */
export function authGuard(verifier: TokenVerifier) {
  async function principalFrom(authorization: string | undefined, method: string): Promise<Principal | null> {
    const token = bearerToken(authorization);
    return token ? verifier.verify(token, { whenDenylistUnavailable: denylistRuleFor(method) }) : null;
  }
  return new Elysia({ name: "careforall-auth-guard" }).macro({
    auth: {
      // A missing token is refused before body validation runs, so 401 wins over 400.
      transform({ headers }) {
        if (!bearerToken(headers.authorization)) throw unauthorized();
      },
      async resolve({ headers, request }) {
        const principal = await principalFrom(headers.authorization, request.method);
        if (!principal) throw unauthorized();
        return { principal };
      },
    },
    admin: {
      transform({ headers }) {
        if (!bearerToken(headers.authorization)) throw unauthorized();
      },
      async resolve({ headers, request }) {
        const principal = await principalFrom(headers.authorization, request.method);
        if (!principal) throw unauthorized();
        if (principal.role !== "admin") throw forbidden("Administrators only");
        return { principal };
      },
    },
    optionalAuth: {
      async resolve({ headers, request }) {
        // A malformed Authorization header is refused rather than silently treated as a guest.
        if (headers.authorization !== undefined && !bearerToken(headers.authorization)) throw unauthorized();
        return { viewer: await principalFrom(headers.authorization, request.method) };
      },
    },
  });
}

/**
 * The guard a service builds from its JWT settings (jwtVerifyConfig): the same verifier options
 * everywhere, plus the ended-sessions denylist and where its outages are logged, when given.
 */
export function userGuard(
  config: { JWT_PUBLIC_KEY: string; JWT_ISSUER: string },
  options: Pick<TokenVerifierOptions, "denylist" | "log"> = {},
) {
  return authGuard(createTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER, ...options }));
}
