// Helpers for integration tests: unique names per run, signing keys, and polling with a deadline.
import { expect } from "bun:test";
import type { CampaignSnapshot } from "@careforall/events";
import {
  createServiceIdentity,
  generateServiceKeySet,
  SERVICE_TOKEN_HEADER,
  SERVICES,
  type ServiceIdentity,
  type ServiceKeySet,
  type ServiceName,
} from "@careforall/http";
import { exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, SignJWT } from "jose";

/** A name unique to this test run (and call), safe for databases, streams and Redis prefixes. */
export function uniqueName(label: string): string {
  const run = process.env.CFA_TEST_RUN_ID ?? Date.now().toString(36);
  return `t_${label}_${run}_${Math.random().toString(36).slice(2, 8)}`.replace(/[^A-Za-z0-9_]/g, "_");
}

/** A fresh Ed25519 key pair as PEM, like the one auth signs with. */
export async function createTestKeys(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { privateKeyPem: await exportPKCS8(privateKey), publicKeyPem: await exportSPKI(publicKey) };
}

/** Polls `check` until it returns a truthy value or the deadline passes; never a fixed sleep. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  {
    timeoutMs = 10_000,
    intervalMs = 25,
    what = "condition",
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** The issuer auth signs with; test tokens use it so every service's verifier accepts them. */
export const TEST_ISSUER = "careforall-auth";

export interface TestPrincipal {
  id: string;
  email: string;
  name: string;
  role: "donor" | "admin";
}

/** Signs access tokens exactly as auth does (EdDSA, sub/email/name/role), with a test key. */
export async function accessTokenSigner(privateKeyPem: string) {
  const key = await importPKCS8(privateKeyPem, "EdDSA");
  return (u: TestPrincipal, expiresIn: string | number = "15m") =>
    new SignJWT({ email: u.email, name: u.name, role: u.role })
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject(u.id)
      .setIssuer(TEST_ISSUER)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(key);
}

/** A campaign as campaign.* events carry it (version 1, active, nothing raised); `overrides` change any field. */
export function campaignSnapshot(overrides: Partial<CampaignSnapshot> = {}): CampaignSnapshot {
  return {
    id: Bun.randomUUIDv7(),
    ownerId: Bun.randomUUIDv7(),
    title: "Clean water for Sylhet",
    description: "Wells and filters",
    goalMinor: 500_000,
    currency: "BDT",
    status: "active",
    raisedMinor: 0,
    donorCount: 0,
    pledgeCount: 0,
    endsAt: null,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    version: 1,
    ...overrides,
  };
}

/** The administrator the tests act as on operator routes. */
export const TEST_ADMIN: TestPrincipal = {
  id: "01938f2e-0000-7000-8000-00000000ad31",
  email: "admin@test.local",
  name: "Admin",
  role: "admin",
};

/** An access token for TEST_ADMIN, signed with `privateKeyPem` (the key the service under test trusts). */
export async function adminTokenFor(privateKeyPem: string): Promise<string> {
  return (await accessTokenSigner(privateKeyPem))(TEST_ADMIN);
}

export interface InProcessCallOptions {
  /** The calling service (default the gateway); `null` sends no service credential. */
  caller?: ServiceName | null;
  as?: TestPrincipal;
  token?: string;
  /** An object is sent as JSON; a string is sent verbatim with a JSON content type. */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Calls an app in-process (`app.handle`) as a service calls it (the gateway unless `caller` says
 * otherwise: a service credential for `audience`), signing an access token for `as` when given.
 */
export function inProcessCaller(
  app: { handle(request: Request): Promise<Response> },
  tokenFor: (u: TestPrincipal) => Promise<string>,
  audience: ServiceName,
) {
  return async (method: string, path: string, options: InProcessCallOptions = {}): Promise<Response> => {
    const caller = options.caller === undefined ? "gateway" : options.caller;
    const headers: Record<string, string> = {
      ...(caller ? await serviceHeaders(audience, caller) : {}),
      ...options.headers,
    };
    const token = options.token ?? (options.as ? await tokenFor(options.as) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
  };
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Asserts an RFC 9457 problem response with the given status (no stack frames) and returns its body. */
export async function expectProblem(res: Response, status: number): Promise<ProblemBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as ProblemBody;
  // Plain checks, not toMatchObject with expect.any(): Bun 1.4.5 writes the matcher objects
  // into the received value, which would corrupt the body we return.
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe("string");
  expect(typeof body.title).toBe("string");
  expect(JSON.stringify(body)).not.toContain("    at ");
  return body;
}

/** The field paths a 400 problem names. */
export const errorPaths = (problem: { errors?: Array<{ path: string }> }) => (problem.errors ?? []).map((e) => e.path);
export * from "./servers";

// One key set for every service, made once per test process: in-process apps verify callers with
// it and tests call them as a named service (`serviceToken`), as the real services do.
let serviceKeys: Promise<ServiceKeySet> | undefined;
const testKeySet = () => {
  serviceKeys ??= generateServiceKeySet();
  return serviceKeys;
};
const identities = new Map<ServiceName, Promise<ServiceIdentity>>();

/** The identity of `service` in tests: its own key, trusting every service's key. */
export function testServiceIdentity(service: ServiceName): Promise<ServiceIdentity> {
  let identity = identities.get(service);
  if (!identity) {
    identity = testKeySet().then((keys) =>
      createServiceIdentity({
        self: service,
        privateKeyPem: keys[service].privateKeyPem,
        trusted: Object.fromEntries(SERVICES.map((name) => [name, keys[name].publicKeyPem])),
      }),
    );
    identities.set(service, identity);
  }
  return identity;
}

/** The test key set itself (for a process-based stack, or to mint a token by hand). */
export const testServiceKeys = testKeySet;

/** Headers proving `caller` calls `audience` (default: the gateway calls). */
export async function serviceHeaders(audience: ServiceName, caller: ServiceName = "gateway") {
  return { [SERVICE_TOKEN_HEADER]: await (await testServiceIdentity(caller)).tokenFor(audience) };
}

/**
 * A service token signed with `caller`'s real key but with chosen claims (an expired one, one for
 * another audience): for tests that attack the check.
 */
export async function forgeServiceToken(options: {
  caller: ServiceName;
  audience: string;
  issuedAt: number;
  expiresAt: number;
  /** Sign with this service's key instead of the caller's (a token that lies about its sender). */
  signer?: ServiceName;
  /** The key set to sign with: a started stack's (default: the in-process tests' own). */
  keys?: ServiceKeySet;
}): Promise<string> {
  const keys = options.keys ?? (await testKeySet());
  const key = await importPKCS8(keys[options.signer ?? options.caller].privateKeyPem, "EdDSA");
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", kid: options.caller })
    .setIssuer(options.caller)
    .setSubject(options.caller)
    .setAudience(options.audience)
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresAt)
    .sign(key);
}
export * from "./boot";
export * from "./callers";
export * from "./service-harness";
export * from "./stack-credentials";
export * from "./ws";
