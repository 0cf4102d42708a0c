// Access-token verification for every service. Only auth holds the Ed25519 private key;
// everyone else verifies with the public key (invariant 6: only auth can mint tokens).
import { Elysia } from "elysia";
import { importSPKI, type JWTPayload, jwtVerify } from "jose";
import { forbidden, unauthorized } from "./errors";

export type Role = "donor" | "admin";

export interface Principal {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export const JWT_ALG = "EdDSA";

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export function createTokenVerifier({ publicKeyPem, issuer }: { publicKeyPem: string; issuer: string }): TokenVerifier {
  const key = importSPKI(publicKeyPem, JWT_ALG);
  return {
    async verify(token) {
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
      const { sub, email, name, role } = payload as JWTPayload & { email?: unknown; name?: unknown; role?: unknown };
      if (typeof sub !== "string" || typeof email !== "string" || (role !== "donor" && role !== "admin")) {
        throw unauthorized("The access token is malformed");
      }
      return { id: sub, email, name: typeof name === "string" ? name : "", role };
    },
  };
}

export function bearerToken(authorization: string | undefined | null): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  return match?.[1] ?? null;
}

/**
 * Route options for access control, each resolving who is calling:
 * - `auth: true` — signed in (else 401); `principal: Principal`
 * - `admin: true` — signed in as an admin (401 / 403); `principal: Principal`
 * - `optionalAuth: true` — a guest or a signed-in user; `viewer: Principal | null` (a bad token is still 401)
 */
export function authGuard(verifier: TokenVerifier) {
  async function principalFrom(authorization: string | undefined): Promise<Principal | null> {
    const token = bearerToken(authorization);
    return token ? verifier.verify(token) : null;
  }
  return new Elysia({ name: "careforall-auth-guard" }).macro({
    auth: {
      // A missing token is refused before body validation runs, so 401 wins over 400.
      transform({ headers }) {
        if (!bearerToken(headers.authorization)) throw unauthorized();
      },
      async resolve({ headers }) {
        const principal = await principalFrom(headers.authorization);
        if (!principal) throw unauthorized();
        return { principal };
      },
    },
    admin: {
      transform({ headers }) {
        if (!bearerToken(headers.authorization)) throw unauthorized();
      },
      async resolve({ headers }) {
        const principal = await principalFrom(headers.authorization);
        if (!principal) throw unauthorized();
        if (principal.role !== "admin") throw forbidden("Administrators only");
        return { principal };
      },
    },
    optionalAuth: {
      async resolve({ headers }) {
        // A malformed Authorization header is refused rather than silently treated as a guest.
        if (headers.authorization !== undefined && !bearerToken(headers.authorization)) throw unauthorized();
        return { viewer: await principalFrom(headers.authorization) };
      },
    },
  });
}
