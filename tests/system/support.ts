// System-test harness: the whole platform (auth, campaign, bank, payment, pledge, gateway) as
// separate processes on fresh ports, a fresh database, its own Redis prefix and bus stream, torn
// down afterwards; plus small HTTP helpers and the service logs' tails for a failing run.
import { afterAll, beforeAll } from "bun:test";
import { internalCallHeaders, registerStack, TEST_NATS_URL, uniqueName } from "@careforall/testkit";
import { type IsolatedStack, startIsolatedStack } from "../../scripts/isolated-stack";
import type { ServiceName, Stack } from "../../scripts/stack";

export const ADMIN = { email: "root-admin@careforall.test", password: "admin-system-password-1" };
export const PASSWORD = "correct horse battery";

/** Environment every system test wants: quiet logs, no rate limits, cheap password hashing. */
export const BASE_ENV: Record<string, string> = {
  NODE_ENV: "test",
  // CFA_SYSTEM_LOG_LEVEL=info (with CFA_SYSTEM_LOGS=1 to print them all) when a run needs explaining.
  LOG_LEVEL: process.env.CFA_SYSTEM_LOG_LEVEL ?? "warn",
  RATE_LIMIT_AUTH: "0",
  RATE_LIMIT_DEMO_ACCOUNTS: "0",
  RATE_LIMIT_PLEDGES: "0",
  PASSWORD_HASH_MEMORY_KIB: "4096",
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  TRUSTED_PROXIES: "",
};

export interface SystemOptions {
  /** Short label for database, bus and Redis names. */
  label: string;
  /** Environment for every service, on top of BASE_ENV. */
  env?: Record<string, string>;
  /** Environment for single services, on top of `env`. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** A Redis of the test's own, started before the platform (see startRedisServer). */
  redisUrl?: string;
  /** A PostgreSQL server of the test's own, started before the platform (see startPostgresServer). */
  databaseServerUrl?: string;
  /** A NATS server of the test's own, started before the platform (see startNatsServer). */
  natsUrl?: string;
}

export interface System {
  stack: Stack;
  /** The gateway's base URL, the only public origin. */
  gw: string;
  logsDir: string;
  /** The stack's database, for provoking races behind the services' backs (locks) and checking what happened. */
  databaseUrl: string;
  /** The stack's bus (NATS URL, subject prefix) and keys: for a process started beside it (the archiver). */
  natsUrl: string;
  busPrefix: string;
  keys: IsolatedStack["keys"];
  /** stack.restart, which waits until the port answers with the new process's own pid. */
  restart(name: ServiceName, env?: Record<string, string>): Promise<void>;
  /** Runs `fn`; if it throws, prints the tail of every service log first, then rethrows. */
  guard<T>(fn: () => Promise<T>): Promise<T>;
  /** The last `chars` characters of each service's log. */
  logTails(chars?: number): string;
}

/**
 * Starts one platform for the calling test file (beforeAll) and tears it down (afterAll): every
 * process stopped, the database dropped, the stream deleted, the Redis keys removed, the logs
 * directory deleted. The returned object is filled in once beforeAll has run.
 */
export function useSystem(options: SystemOptions): System {
  const ctx = {} as System;
  let iso: IsolatedStack | undefined;
  // A test runner that dies (Ctrl-C, timeout) must not leave the platform running behind it.
  const killAll = () => {
    for (const svc of iso?.stack.services.values() ?? []) svc.proc.kill("SIGKILL");
  };

  beforeAll(async () => {
    iso = await startIsolatedStack({
      label: `sys_${options.label}`,
      env: { ...BASE_ENV, ...options.env },
      ...(options.serviceEnv ? { serviceEnv: options.serviceEnv } : {}),
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
      ...(options.databaseServerUrl ? { databaseServerUrl: options.databaseServerUrl } : {}),
      ...(options.natsUrl ? { natsUrl: options.natsUrl } : {}),
    });
    const { stack, logsDir, databaseUrl, logTails, busPrefix, keys } = iso;
    // Direct calls to the internal services carry what their platform caller would send.
    registerStack({ urls: iso.stack.urls, keys: iso.keys });
    process.once("exit", killAll);
    Object.assign(ctx, {
      stack,
      gw: stack.urls.gateway,
      logsDir,
      databaseUrl,
      logTails,
      natsUrl: options.natsUrl ?? TEST_NATS_URL,
      busPrefix,
      keys,
      // startStack's restart waits until the port answers with the new process's own pid.
      restart: (name: ServiceName, env?: Record<string, string>) => stack.restart(name, env),
      async guard<T>(fn: () => Promise<T>): Promise<T> {
        try {
          return await fn();
        } catch (err) {
          console.error(`\n=== service logs (${logsDir}) ===\n${logTails(3000)}\n=== end of service logs ===`);
          throw err;
        }
      },
    });
  }, 90_000);

  afterAll(async () => {
    process.removeListener("exit", killAll);
    if (process.env.CFA_SYSTEM_LOGS && iso) console.log(iso.logTails(1_000_000));
    const keep = Boolean(process.env.CFA_SYSTEM_KEEP_LOGS);
    if (keep && iso) console.log(`service logs kept in ${iso.logsDir}`);
    await iso?.cleanup({ keepLogs: keep });
  }, 60_000);

  return ctx;
}

// ── HTTP ───────────────────────────────────────────────────────────────────────────────────

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string | undefined;
  headers?: Record<string, string>;
  /** false: send no service credential to an internal service (tests of the caller check). */
  internal?: boolean;
  timeoutMs?: number;
}

/** One JSON call. Network failures (refused, reset, timeout) throw; every HTTP answer returns. */
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
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers,
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if (/json/.test(res.headers.get("content-type") ?? "") && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Like `call`, but anything other than `expected` throws with the answer in the message. */
export async function expectCall<T = unknown>(
  expected: number,
  base: string,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<T> {
  const reply = await call<T>(base, method, path, body, options);
  if (reply.status !== expected)
    throw new Error(`${method} ${path}: expected ${expected}, got ${reply.status} ${reply.text.slice(0, 500)}`);
  return reply.body;
}

/** A demo bank account's credentials, as a guest donor pays with them. */
export interface DemoAccount {
  bankAccountId: string;
  accountSecret: string;
}

/** Opens a demo bank account through the gateway, as a guest does (201 or the call throws). */
export function openDemoAccount(gw: string): Promise<DemoAccount> {
  return expectCall<DemoAccount>(201, gw, "POST", "/api/bank/demo-accounts");
}

/** Starts a BDT campaign owned by `owner` through the gateway; its id. */
export async function createCampaign(
  gw: string,
  owner: Session,
  title: string,
  { description = "System test", goalMinor = 10_000_000 }: { description?: string; goalMinor?: number } = {},
): Promise<string> {
  const campaign = await expectCall<{ id: string }>(
    201,
    gw,
    "POST",
    "/api/campaigns",
    { title, description, goalMinor, currency: "BDT" },
    { token: owner.accessToken },
  );
  return campaign.id;
}

export function uniqueEmail(label = "user"): string {
  return `${uniqueName(label).toLowerCase()}@example.org`;
}

export interface Session {
  user: { id: string; email: string; name: string; role: string; bankAccountId: string | null };
  accessToken: string;
}

export async function register(gw: string, name: string): Promise<Session> {
  return expectCall<Session>(201, gw, "POST", "/api/auth/register", { email: uniqueEmail(), password: PASSWORD, name });
}

export async function login(gw: string, email: string, password: string): Promise<Session> {
  return expectCall<Session>(200, gw, "POST", "/api/auth/login", { email, password });
}

/** A single-series gauge's value from a Prometheus text page (any labels), or undefined when absent. */
export function gauge(metricsText: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metricsText);
  return match ? Number(match[1]) : undefined;
}

/** Runs `fn` over `items`, at most `limit` at once. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

export const sleep = (ms: number) => Bun.sleep(ms);
export const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
