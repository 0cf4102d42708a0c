// An isolated copy of the platform for one benchmark run: its own PostgreSQL database, Redis
// key prefix, NATS stream prefix and signing keys, the services started as separate processes on
// free ports (the same topology as `bun start` and the end-to-end tests), and a teardown that
// removes every trace. Plus the few API calls scenarios need to set up data through the gateway.
import { startIsolatedStack } from "../../scripts/isolated-stack";
import { SERVICES, type ServiceName, type Stack } from "../../scripts/stack";

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
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  options.log(`starting ${SERVICES.join(", ")}`);
  const iso = await startIsolatedStack({
    label: "bench",
    env: { RATE_LIMIT_AUTH: "0", LOG_LEVEL: "warn", ...options.env },
  });
  options.log(`started (database ${iso.databaseName}, logs ${iso.logsDir})`);
  return {
    gatewayUrl: iso.stack.urls.gateway,
    urls: iso.stack.urls,
    stack: iso.stack,
    database: iso.databaseName,
    redisPrefix: iso.redisPrefix,
    busPrefix: iso.busPrefix,
    logsDir: iso.logsDir,
    teardown: (teardownOptions) => iso.cleanup(teardownOptions),
  };
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
