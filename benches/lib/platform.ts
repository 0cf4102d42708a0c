// An isolated copy of the platform for one benchmark run: its own PostgreSQL database, Redis
// key prefix, NATS stream prefix and signing keys, the services started as separate processes on
// free ports (the same topology as `bun start` and the end-to-end tests), and a teardown that
// removes every trace. Plus the few API calls scenarios need to set up data through the gateway.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteStream } from "@careforall/bus";
import { createRedisClient } from "@careforall/cache";
import { createTestDatabase, type TestDatabase } from "@careforall/db";
import { createTestKeys, TEST_NATS_URL, TEST_REDIS_URL, uniqueName } from "@careforall/testkit";
import { freePorts, SERVICES, type ServiceName, type Stack, startStack } from "../../scripts/stack";
import { childPids, terminate } from "./processes";

export interface Platform {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  stack: Stack;
  database: string;
  redisPrefix: string;
  busPrefix: string;
  logsDir: string;
  /** Stops the services and removes the database, stream and Redis keys; returns what failed. */
  teardown(options?: { keepLogs?: boolean }): Promise<string[]>;
}

export interface PlatformOptions {
  /** Extra service environment; RATE_LIMIT_AUTH=0 and LOG_LEVEL=warn are the defaults. */
  env?: Record<string, string>;
  log(message: string): void;
}

/** Deletes every Redis key under `prefix` (SCAN + UNLINK, so a big keyspace never blocks). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const redis = createRedisClient(url);
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const steps: Array<{ label: string; run: () => Promise<unknown> }> = [];
  const undo = async (): Promise<string[]> => {
    const failed: string[] = [];
    for (const step of steps.splice(0).reverse()) {
      try {
        const outcome = await step.run();
        const note = typeof outcome === "number" ? ` (${outcome})` : outcome === false ? " (nothing to remove)" : "";
        options.log(`teardown: ${step.label}${note}`);
      } catch (err) {
        failed.push(`${step.label}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failed;
  };

  const redisPrefix = `${uniqueName("bench")}:`;
  const busPrefix = uniqueName("bench");
  const logsDir = mkdtempSync(join(tmpdir(), "cfa-bench-logs-"));
  let db: TestDatabase | undefined;
  try {
    db = await createTestDatabase("bench");
    const database = db;
    steps.push({ label: "drop database", run: () => database.drop() });
    // The services create the stream and keys; removing them is harmless when they never did.
    steps.push({ label: "delete NATS stream", run: () => deleteStream(TEST_NATS_URL, busPrefix) });
    steps.push({ label: "delete Redis keys", run: () => deleteRedisKeys(TEST_REDIS_URL, redisPrefix) });

    const ports = freePorts();
    options.log(`starting ${SERVICES.join(", ")} (database ${db.name}, logs ${logsDir})`);
    let stack: Stack;
    try {
      stack = await startStack({
        databaseUrl: db.url,
        redisUrl: TEST_REDIS_URL,
        redisPrefix,
        natsUrl: TEST_NATS_URL,
        busPrefix,
        keys: await createTestKeys(),
        ports,
        env: { RATE_LIMIT_AUTH: "0", LOG_LEVEL: "warn", ...options.env },
        logs: { dir: logsDir },
      });
    } catch (err) {
      // startStack leaves the services it already launched running when a later one fails.
      await terminate(SERVICES.flatMap((s) => childPids(join("apps", s, "src", "main.ts"))));
      throw new Error(`${err instanceof Error ? err.message : String(err)} (service logs in ${logsDir})`);
    }
    const running = stack;
    steps.push({ label: "stop services", run: () => running.stop() });

    return {
      gatewayUrl: stack.urls.gateway,
      urls: stack.urls,
      stack,
      database: db.name,
      redisPrefix,
      busPrefix,
      logsDir,
      async teardown({ keepLogs = false } = {}) {
        const failed = await undo();
        if (!keepLogs && failed.length === 0) rmSync(logsDir, { recursive: true, force: true });
        return failed;
      },
    };
  } catch (err) {
    const failed = await undo();
    if (failed.length > 0) options.log(`teardown after a failed start also failed: ${failed.join("; ")}`);
    throw err;
  }
}

/** fetch + JSON with a status check, for set-up calls (never on the measured path). */
export async function api<T>(
  url: string,
  init: { method?: string; body?: unknown; token?: string; expect?: number } = {},
): Promise<{ status: number; body: T; text: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  const expect = init.expect ?? 200;
  if (res.status !== expect) {
    throw new Error(`${init.method ?? "GET"} ${url} answered ${res.status}, expected ${expect}: ${text.slice(0, 500)}`);
  }
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, text, headers: res.headers };
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; name: string };
}

/** Registers a fresh donor through the gateway. */
export async function registerUser(gatewayUrl: string, label = "bench"): Promise<Session> {
  const email = `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@bench.test`;
  const res = await api<Session>(`${gatewayUrl}/api/auth/register`, {
    method: "POST",
    body: { email, password: "bench-password-1", name: "Bench Donor" },
    expect: 201,
  });
  return res.body;
}

export interface Campaign {
  id: string;
  version?: number;
  [field: string]: unknown;
}

/** Creates an active BDT campaign through the gateway as the token's owner. */
export async function createCampaign(
  gatewayUrl: string,
  token: string,
  fields: { title?: string; description?: string; goalMinor?: number } = {},
): Promise<Campaign> {
  const res = await api<Campaign>(`${gatewayUrl}/api/campaigns`, {
    method: "POST",
    token,
    body: {
      title: fields.title ?? "Benchmark campaign",
      description: fields.description ?? "Created by benches/ to measure the platform; safe to ignore.",
      goalMinor: fields.goalMinor ?? 10_000_000,
      currency: "BDT",
    },
    expect: 201,
  });
  return res.body;
}
