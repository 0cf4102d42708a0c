// Service identity: behind the gateway is not a trusted zone (DESIGN.md invariant 7). Every call
// from one service to another carries a short-lived token that proves which service calls and
// whom it is for — an EdDSA (Ed25519) JWT, `iss` = `sub` = the caller, `aud` = the callee, signed
// with the caller's own private key. The callee verifies it with the caller's public key from its
// configured trust set, then checks the route's own list of callers. Tokens live a minute; the
// caller mints one per audience and reuses it until 20 s before it expires, and the callee
// remembers a verified token until it expires, so neither side signs or verifies per request.
//
// Why tokens and not mTLS: it needs no certificate authority, works through any proxy and in the
// embedded profile's in-process calls, names the callee (a token for the bank is useless at
// payment), and reuses the key handling auth's access tokens already have. See the README's
// "Security model".
import { Elysia } from "elysia";
import {
  decodeJwt,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  importSPKI,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import { JWT_ALG, normalisePem } from "./auth";
import { AppError } from "./errors";

export const SERVICES = [
  "gateway",
  "auth",
  "campaign",
  "pledge",
  "payment",
  "bank",
  "notification",
  "chat",
  // Calls nobody and is called by nobody; listed so it boots like the others (its own key, NATS user).
  "archiver",
] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The request header that carries the calling service's token. */
export const SERVICE_TOKEN_HEADER = "x-service-token";

/** How long a minted token is valid. */
export const SERVICE_TOKEN_TTL_SECONDS = 60;
/** A caller mints a fresh token when the one it holds has less than this left. */
const REFRESH_MARGIN_SECONDS = 20;
/** Clocks of two hosts may disagree by this much. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Verified tokens remembered per process (a token is reused by its caller for ~40 s). */
const VERIFIED_CACHE_MAX = 1_000;

/** 401: no credential, or one that proves nothing (forged, expired, for another service). */
export const serviceCredentialRefused = (detail: string) =>
  new AppError({ status: 401, code: "service-credential", title: "Service credential refused", detail });

/** 403: a proven service this route does not accept. */
export const callerNotAccepted = (detail: string) =>
  new AppError({ status: 403, code: "caller-not-accepted", title: "Caller not accepted", detail });

export const isServiceName = (value: unknown): value is ServiceName =>
  typeof value === "string" && (SERVICES as readonly string[]).includes(value);

export interface ServiceIdentity {
  readonly self: ServiceName;
  /** A token for a call to `audience` (cached until shortly before it expires). */
  tokenFor(audience: ServiceName): Promise<string>;
  /** The calling service a token proves, or an `unauthorized` AppError (missing, forged, expired, not for us). */
  verify(token: string | null | undefined): Promise<ServiceName>;
}

export interface ServiceIdentityOptions {
  self: ServiceName;
  /** PKCS8 PEM of this service's own Ed25519 key (mints its tokens). */
  privateKeyPem: string;
  /** SPKI PEM of each service whose calls this one accepts (services not listed are never accepted). */
  trusted: Partial<Record<ServiceName, string>>;
  /** Seconds since the epoch (tests move it); default the wall clock. */
  now?: () => number;
}

/**
 * The trust set as configured: a JSON object mapping a service name to its SPKI PEM
 * (`SERVICE_TRUSTED_KEYS`). Throws naming what is wrong.
 */
export function parseTrustedKeys(json: string): Partial<Record<ServiceName, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error("SERVICE_TRUSTED_KEYS is not JSON (expected an object of service name → SPKI PEM)");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Error("SERVICE_TRUSTED_KEYS must be a JSON object of service name → SPKI PEM");
  const trusted: Partial<Record<ServiceName, string>> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!isServiceName(name)) throw new Error(`SERVICE_TRUSTED_KEYS names an unknown service ${JSON.stringify(name)}`);
    if (typeof value !== "string" || !value.includes("PUBLIC KEY"))
      throw new Error(`SERVICE_TRUSTED_KEYS.${name} is not an SPKI PEM public key`);
    trusted[name] = value;
  }
  return trusted;
}

export async function createServiceIdentity(options: ServiceIdentityOptions): Promise<ServiceIdentity> {
  const { self } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const privateKey = await importPKCS8(normalisePem(options.privateKeyPem), JWT_ALG).catch(() => {
    throw new Error(`SERVICE_PRIVATE_KEY of ${self} is not a PKCS8 PEM Ed25519 private key`);
  });
  const keys = new Map<ServiceName, CryptoKey>();
  for (const [name, text] of Object.entries(options.trusted) as Array<[ServiceName, string]>) {
    keys.set(
      name,
      await importSPKI(normalisePem(text), JWT_ALG).catch(() => {
        throw new Error(`the trusted key of ${name} is not an SPKI PEM Ed25519 public key`);
      }),
    );
  }

  const minted = new Map<ServiceName, { token: Promise<string>; expiresAt: number }>();
  const verified = new Map<string, { caller: ServiceName; expiresAt: number }>();

  function mint(audience: ServiceName): { token: Promise<string>; expiresAt: number } {
    const issuedAt = now();
    const expiresAt = issuedAt + SERVICE_TOKEN_TTL_SECONDS;
    const token = new SignJWT({})
      .setProtectedHeader({ alg: JWT_ALG, kid: self, typ: "JWT" })
      .setIssuer(self)
      .setSubject(self)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(privateKey);
    return { token, expiresAt };
  }

  return {
    self,
    tokenFor(audience) {
      let held = minted.get(audience);
      if (!held || held.expiresAt - now() < REFRESH_MARGIN_SECONDS) {
        held = mint(audience);
        minted.set(audience, held);
        // A failed signature (it should not happen) must not be cached.
        held.token.catch(() => minted.delete(audience));
      }
      return held.token;
    },

    async verify(token) {
      if (!token)
        throw serviceCredentialRefused(
          `Internal routes need a service credential (the ${SERVICE_TOKEN_HEADER} header)`,
        );
      const at = now();
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt + CLOCK_TOLERANCE_SECONDS > at) return known.caller;
        verified.delete(token);
      }
      let claimed: JWTPayload;
      try {
        claimed = decodeJwt(token);
      } catch {
        throw serviceCredentialRefused("The service credential is not a JWT");
      }
      const caller = claimed.sub;
      const key = isServiceName(caller) ? keys.get(caller) : undefined;
      if (!isServiceName(caller) || !key)
        throw serviceCredentialRefused("The service credential names no service this one trusts");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [JWT_ALG],
          issuer: caller,
          subject: caller,
          audience: self,
          requiredClaims: ["iat", "exp"],
          maxTokenAge: SERVICE_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(at * 1000),
        }));
      } catch {
        throw serviceCredentialRefused("The service credential is invalid, expired or meant for another service");
      }
      if (verified.size >= VERIFIED_CACHE_MAX) verified.clear();
      verified.set(token, { caller, expiresAt: payload.exp as number });
      return caller;
    },
  };
}

/** As main.ts builds it: the service's own key and the trust set from its configuration. */
export async function identityFromConfig(
  self: ServiceName,
  config: { SERVICE_PRIVATE_KEY?: string | undefined; SERVICE_TRUSTED_KEYS?: string | undefined },
  { trustsOthers = true }: { trustsOthers?: boolean } = {},
): Promise<ServiceIdentity> {
  const missing = [
    config.SERVICE_PRIVATE_KEY ? null : "SERVICE_PRIVATE_KEY (PKCS8 PEM of this service's own Ed25519 key)",
    config.SERVICE_TRUSTED_KEYS || !trustsOthers ? null : "SERVICE_TRUSTED_KEYS (JSON: service name → SPKI PEM)",
  ].filter(Boolean);
  if (missing.length > 0) throw new Error(`${self} cannot start without ${missing.join(" and ")}`);
  return createServiceIdentity({
    self,
    privateKeyPem: config.SERVICE_PRIVATE_KEY as string,
    trusted: config.SERVICE_TRUSTED_KEYS ? parseTrustedKeys(config.SERVICE_TRUSTED_KEYS) : {},
  });
}

/** One Ed25519 key pair per service, as PEM. */
export type ServiceKeySet = Record<ServiceName, { privateKeyPem: string; publicKeyPem: string }>;

/** Fresh keys for every service (development, tests and `./cfa deploy-env`; production brings its own). */
export async function generateServiceKeySet(): Promise<ServiceKeySet> {
  const entries = await Promise.all(
    SERVICES.map(async (name) => {
      const { privateKey, publicKey } = await generateKeyPair(JWT_ALG, { crv: "Ed25519", extractable: true });
      return [
        name,
        { privateKeyPem: await exportPKCS8(privateKey), publicKeyPem: await exportSPKI(publicKey) },
      ] as const;
    }),
  );
  return Object.fromEntries(entries) as ServiceKeySet;
}

/** The `SERVICE_TRUSTED_KEYS` value that trusts every service of a key set. */
export function trustedKeysJson(keys: ServiceKeySet): string {
  return JSON.stringify(Object.fromEntries(SERVICES.map((name) => [name, keys[name].publicKeyPem])));
}

/**
 * A fetcher for calls to `audience`: every request carries this service's token for it. Wraps the
 * dependency's own fetcher (timeouts, breaker), so Eden clients take it as their `fetcher`.
 */
export function serviceFetch(identity: ServiceIdentity, audience: ServiceName, fetcher: typeof fetch): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    headers.set(SERVICE_TOKEN_HEADER, await identity.tokenFor(audience));
    return fetcher(input, { ...init, headers });
  }) as typeof fetch;
}

// The caller a request's credential proved (set by httpKit when it verified it), and the requests
// whose route accepted that caller. Keyed by the Request: nothing on the context a client controls.
const callers = new WeakMap<Request, ServiceName>();
const accepted = new WeakSet<Request>();

/** httpKit: the service this request comes from (its credential verified). */
export function recordCaller(request: Request, caller: ServiceName): void {
  callers.set(request, caller);
}

/** The verified calling service of a request, if any. */
export function callerOf(request: Request): ServiceName | undefined {
  return callers.get(request);
}

/** httpKit: whether the route of this request named its caller (checked before the handler runs). */
export function callerAccepted(request: Request): boolean {
  return accepted.has(request);
}

/**
 * The `callers` route option: the services a route accepts, e.g. `callers: ["gateway"]`. Checked
 * before the body is validated; any other caller gets 403 and the route does nothing. A route
 * without it accepts nobody (httpKit refuses the request), so a new route cannot forget it.
 */
export const serviceCallers = new Elysia({ name: "careforall-service-callers" }).macro({
  callers: (allowed: readonly ServiceName[]) => {
    const check = ({ request }: { request: Request }) => {
      const caller = callers.get(request);
      if (!caller || !allowed.includes(caller))
        throw callerNotAccepted(`This route accepts calls from ${allowed.join(", ") || "no service"} only`);
      accepted.add(request);
    };
    // The route table keeps the hook, not the option: tagged so tests can read each route's callers.
    return { transform: Object.assign(check, { [CALLERS]: allowed }) };
  },
});

const CALLERS = Symbol.for("careforall.callers");

/** The callers a route of `app.routes` names (from its `callers` option), or undefined when it names none. */
export function routeCallers(route: { hooks?: unknown }): readonly ServiceName[] | undefined {
  const transforms = (route.hooks as { transform?: unknown } | undefined)?.transform;
  const list = Array.isArray(transforms) ? transforms : transforms ? [transforms] : [];
  for (const hook of list) {
    const fn = (hook as { fn?: unknown })?.fn ?? hook;
    const allowed = (fn as Record<symbol, unknown> | undefined)?.[CALLERS];
    if (Array.isArray(allowed)) return allowed as ServiceName[];
  }
  return undefined;
}
