// End-to-end harness: one real stack (every service as its own process, scripts/stack.ts) per test
// file, on fresh ports, a fresh database, its own Redis prefix and bus stream; plus helpers for
// JSON calls through the gateway, sessions, and forged tokens.
import { afterAll, beforeAll, expect } from "bun:test";
import type { AuthModel } from "@careforall/auth";
import type { CampaignModel } from "@careforall/campaign";
import type { ServiceKeySet } from "@careforall/http";
import { internalCallHeaders, registerStack, uniqueName } from "@careforall/testkit";
import { exportPKCS8, generateKeyPair, importPKCS8, SignJWT } from "jose";
import { type IsolatedStack, startIsolatedStack } from "../../../../scripts/isolated-stack";
import type { Stack } from "../../../../scripts/stack";

export const ISSUER = "careforall-auth";
export const ADMIN = { email: "root-admin@careforall.test", password: "admin-e2e-password-1" };
export const PASSWORD = "correct horse battery";

export type Session = AuthModel.Session;
export type Campaign = CampaignModel.Campaign;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export interface E2E {
  stack: Stack;
  /** The gateway's base URL, the only public origin. */
  gw: string;
  /** Auth's JWT key pair and every service's identity key pair, as the stack runs with them. */
  keys: { privateKeyPem: string; publicKeyPem: string; services: ServiceKeySet };
  logsDir: string;
  /** The stack's database, for asserting what did (not) happen behind the gateway. */
  databaseUrl: string;
}

/**
 * Starts one stack for the calling test file (beforeAll) and tears it down (afterAll). The
 * returned object is filled in once beforeAll has run. `label` names the database, Redis prefix
 * and bus stream (default "gw_e2e"), so a suite's leftovers can be told apart.
 */
export function useStack(env: Record<string, string> = {}, options: { label?: string } = {}): E2E {
  const ctx = {} as E2E;
  let iso: IsolatedStack | undefined;

  beforeAll(async () => {
    iso = await startIsolatedStack({
      label: options.label ?? "gw_e2e",
      env: {
        NODE_ENV: "test",
        LOG_LEVEL: "warn",
        RATE_LIMIT_AUTH: "1000",
        RATE_LIMIT_LOGIN_PER_ACCOUNT: "1000",
        PASSWORD_HASH_MEMORY_KIB: "4096",
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        TRUSTED_PROXIES: "",
        ...env,
      },
    });
    const { stack, keys, logsDir, databaseUrl } = iso;
    // Direct calls to the internal services carry what their platform caller would send.
    registerStack({ urls: iso.stack.urls, keys: iso.keys });
    Object.assign(ctx, { stack, gw: stack.urls.gateway, keys, logsDir, databaseUrl });
  }, 60_000);

  afterAll(async () => {
    // Anything a service logged at warn or above, so a failing run shows why.
    if (process.env.CFA_E2E_LOGS && iso) console.log(iso.logTails(1_000_000));
    await iso?.cleanup();
  }, 30_000);

  return ctx;
}

export interface Reply<T = unknown> {
  res: Response;
  status: number;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string | undefined;
  headers?: Record<string, string>;
  /** false: send no service credential to an internal service (tests of the caller check). */
  internal?: boolean;
  /** Sent as-is (no JSON.stringify), e.g. malformed JSON. */
  raw?: string;
}

/** One HTTP call; JSON bodies are stringified, JSON answers parsed (text kept for leak checks). */
export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<Reply<T>> {
  // An internal service answers its platform callers only: the call carries that caller's credential
  // (and an administrator's token on operator routes) unless `internal: false` asks for none.
  const headers: Record<string, string> = {
    ...(options.internal === false ? {} : await internalCallHeaders(base, path, { asAdmin: !options.token })),
    ...options.headers,
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  const res = await fetch(base + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  if (/json/.test(res.headers.get("content-type") ?? "") && text) parsed = JSON.parse(text);
  return { res, status: res.status, body: parsed as T, text };
}

/** Asserts an RFC 9457 problem (status, media type, required members, no stack frames). */
export function expectProblem(reply: Reply, status: number): Problem {
  expect({ status: reply.status, body: reply.text }).toMatchObject({ status });
  expect(reply.res.headers.get("content-type")).toBe("application/problem+json");
  const body = reply.body as Problem;
  // typeof checks, not expect.any(String): in Bun 1.4.5 that matcher boxes the matched strings.
  expect([typeof body.type, typeof body.title, body.status]).toEqual(["string", "string", status]);
  expectNoStackTrace(reply.text);
  return body;
}

/** No `at fn (file:line)` frames and no source paths in anything a client can read. */
export function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/\bat \S+ \(|\bat \/|\.ts:\d+/);
}

export function uniqueEmail(label = "user"): string {
  return `${uniqueName(label).toLowerCase()}@example.org`;
}

export interface Account {
  email: string;
  password: string;
  name: string;
  session: Session;
  token: string;
}

/** Registers a fresh donor through the gateway (asserting 201) and returns its session. */
export async function register(gw: string, overrides: { email?: string; name?: string } = {}): Promise<Account> {
  const input = { email: uniqueEmail(), password: PASSWORD, name: "Ada Donor", ...overrides };
  const reply = await call<Session>(gw, "POST", "/api/auth/register", input);
  if (reply.status !== 201) throw new Error(`register failed: ${reply.status} ${reply.text}`);
  return { ...input, session: reply.body, token: reply.body.accessToken };
}

export async function login(gw: string, email: string, password: string): Promise<Session> {
  const reply = await call<Session>(gw, "POST", "/api/auth/login", { email, password });
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`);
  return reply.body;
}

export interface ForgeOptions {
  /** PKCS8 PEM to sign with; defaults to a key nobody trusts. */
  privateKeyPem?: string;
  /** Seconds since the epoch, or a jose time span like "15m" / "-1m"-style via number. */
  exp?: number | string;
  issuer?: string;
  claims?: Record<string, unknown>;
  sub?: string;
}

let strangerKeyPem: Promise<string> | undefined;
/** A key pair that is not the stack's: tokens signed with it must be refused. */
export function strangerKey(): Promise<string> {
  strangerKeyPem ??= generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true }).then(({ privateKey }) =>
    exportPKCS8(privateKey),
  );
  return strangerKeyPem;
}

/** Signs an access token the way auth does (EdDSA, issuer, sub/email/name/role). */
export async function signToken(options: ForgeOptions = {}): Promise<string> {
  const pem = options.privateKeyPem ?? (await strangerKey());
  const key = await importPKCS8(pem, "EdDSA");
  const jwt = new SignJWT({ email: "forger@example.org", name: "Forger", role: "donor", ...options.claims })
    .setProtectedHeader({ alg: "EdDSA", typ: "JWT" })
    .setSubject(options.sub ?? Bun.randomUUIDv7())
    .setIssuer(options.issuer ?? ISSUER)
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
    .setExpirationTime(options.exp ?? "15m");
  return jwt.sign(key);
}

/** An unsigned `alg: none` token claiming to be an admin. */
export function unsignedToken(claims: Record<string, unknown> = {}): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({
    sub: Bun.randomUUIDv7(),
    email: "none@example.org",
    name: "None",
    role: "admin",
    iss: ISSUER,
    iat: now,
    exp: now + 900,
    ...claims,
  })}.`;
}

export function campaignInput(overrides: Record<string, unknown> = {}) {
  return {
    title: `Campaign ${uniqueName("c")}`,
    description: "Emergency relief",
    goalMinor: 500_000,
    currency: "BDT",
    ...overrides,
  };
}

/** Creates a campaign through the gateway (asserting 201). */
export async function createCampaign(gw: string, token: string, overrides: Record<string, unknown> = {}) {
  const reply = await call<Campaign>(gw, "POST", "/api/campaigns", campaignInput(overrides), { token });
  if (reply.status !== 201) throw new Error(`create campaign failed: ${reply.status} ${reply.text}`);
  return reply.body;
}
