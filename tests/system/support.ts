// System-test harness: the whole platform (auth, campaign, bank, payment, pledge, gateway) as
// separate processes on fresh ports, a fresh database, its own Redis prefix and bus stream, torn
// down afterwards; plus small HTTP helpers and the service logs' tails for a failing run.
// Modelled on apps/gateway/test/e2e/support.ts, deliberately not imported from there.
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteStream } from "@careforall/bus";
import { createRedisClient } from "@careforall/cache";
import { createTestDatabase, type TestDatabase } from "@careforall/db";
import { createTestKeys, TEST_NATS_URL, TEST_REDIS_URL, uniqueName } from "@careforall/testkit";
import { freePorts, type ServiceName, type Stack, startStack } from "../../scripts/stack";

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
}

export interface System {
  stack: Stack;
  /** The gateway's base URL, the only public origin. */
  gw: string;
  logsDir: string;
  /** The stack's database, for provoking races behind the services' backs (locks) and checking what happened. */
  databaseUrl: string;
  /** stack.restart, then a check that the service answering is really ours (see impostors). */
  restart(name: ServiceName, env?: Record<string, string>): Promise<void>;
  /** Runs `fn`; if it throws, prints the tail of every service log first, then rethrows. */
  guard<T>(fn: () => Promise<T>): Promise<T>;
  /** The last `chars` characters of each service's log. */
  logTails(chars?: number): string;
}

type Spawn = typeof Bun.spawn;

function tails(dir: string, chars: number): string {
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return "";
  }
  return files.map((f) => `--- ${f} (tail)\n${readFileSync(join(dir, f), "utf8").slice(-chars)}`).join("\n");
}

/** A port picked as free was taken by another process (another test run) before our service bound it. */
class PortTaken extends Error {}

/**
 * Services whose URL answers as some other service: freePorts() can race with other stacks on
 * the machine, and startStack's /ready check cannot tell who answered.
 */
export async function impostors(stack: Stack, names: readonly ServiceName[] = [...stack.services.keys()]) {
  const wrong: string[] = [];
  for (const name of names) {
    const health = await fetch(`${stack.urls[name]}/health`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json() as Promise<{ service?: string }>)
      .catch(() => ({ service: undefined }));
    const proc = stack.services.get(name)?.proc;
    if (health.service !== name || proc?.exitCode !== null) wrong.push(`${name} (${stack.urls[name]})`);
  }
  return wrong;
}

/**
 * startStack, but a start that fails half-way kills what it did launch (startStack leaves that to
 * its caller) and attaches the service logs to the error, since they say why.
 */
async function startTrackedStack(options: Parameters<typeof startStack>[0]): Promise<Stack> {
  const launched: Array<ReturnType<Spawn>> = [];
  const bun = Bun as unknown as { spawn: Spawn };
  const spawn = bun.spawn;
  bun.spawn = ((...args: Parameters<Spawn>) => {
    const proc = spawn(...args);
    launched.push(proc);
    return proc;
  }) as Spawn;
  try {
    const stack = await startStack(options);
    const strangers = await impostors(stack);
    if (strangers.length > 0) {
      await stack.stop();
      throw new PortTaken(strangers.join(", "));
    }
    return stack;
  } catch (err) {
    if (err instanceof PortTaken) throw err;
    for (const proc of launched) proc.kill("SIGKILL");
    await Promise.all(launched.map((proc) => proc.exited));
    const dir = options.logs && options.logs !== "inherit" ? options.logs.dir : undefined;
    throw new Error(`the stack did not start: ${String(err)}\n${dir ? tails(dir, 4000) : ""}`);
  } finally {
    bun.spawn = spawn;
  }
}

/**
 * Starts one platform for the calling test file (beforeAll) and tears it down (afterAll): every
 * process stopped, the database dropped, the stream deleted, the Redis keys removed, the logs
 * directory deleted. The returned object is filled in once beforeAll has run.
 */
export function useSystem(options: SystemOptions): System {
  const ctx = {} as System;
  let db: TestDatabase | undefined;
  let stack: Stack | undefined;
  const redisPrefix = `${uniqueName(`sys_${options.label}`)}:`;
  const busPrefix = uniqueName(`sys_${options.label}`);
  const logsDir = mkdtempSync(join(tmpdir(), `cfa-sys-${options.label}-`));
  // A test runner that dies (Ctrl-C, timeout) must not leave the platform running behind it.
  const killAll = () => {
    for (const svc of stack?.services.values() ?? []) svc.proc.kill("SIGKILL");
  };

  beforeAll(async () => {
    db = await createTestDatabase(`sys_${options.label}`);
    const keys = await createTestKeys();
    for (let attempt = 1; !stack; attempt++) {
      try {
        stack = await startTrackedStack({
          databaseUrl: db.url,
          redisUrl: TEST_REDIS_URL,
          redisPrefix,
          natsUrl: TEST_NATS_URL,
          busPrefix,
          keys,
          ports: freePorts(),
          env: { ...BASE_ENV, ...options.env },
          ...(options.serviceEnv ? { serviceEnv: options.serviceEnv } : {}),
          logs: { dir: logsDir },
          readyTimeoutMs: 30_000,
        });
      } catch (err) {
        if (!(err instanceof PortTaken) || attempt >= 3) throw err;
        console.warn(`system stack: a port was taken by another process (${err.message}); retrying on new ports`);
      }
    }
    process.once("exit", killAll);
    Object.assign(ctx, {
      stack,
      gw: stack.urls.gateway,
      logsDir,
      databaseUrl: db.url,
      logTails: (chars = 3000) => tails(logsDir, chars),
      async restart(name: ServiceName, env?: Record<string, string>) {
        await stack!.restart(name, env);
        const wrong = await impostors(stack!, [name]);
        if (wrong.length > 0) throw new Error(`restarted ${name}, but its port answers for someone else: ${wrong}`);
      },
      async guard<T>(fn: () => Promise<T>): Promise<T> {
        try {
          return await fn();
        } catch (err) {
          console.error(`\n=== service logs (${logsDir}) ===\n${tails(logsDir, 3000)}\n=== end of service logs ===`);
          throw err;
        }
      },
    });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    process.removeListener("exit", killAll);
    if (process.env.CFA_SYSTEM_LOGS) console.log(tails(logsDir, 1_000_000));
    await db?.drop();
    await deleteStream(TEST_NATS_URL, busPrefix).catch(() => false);
    const redis = createRedisClient(TEST_REDIS_URL);
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
    if (process.env.CFA_SYSTEM_KEEP_LOGS) console.log(`service logs kept in ${logsDir}`);
    else rmSync(logsDir, { recursive: true, force: true });
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
  const headers: Record<string, string> = { ...options.headers };
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
