// An isolated copy of the platform for one benchmark run: its own PostgreSQL database, Redis
// key prefix, NATS stream prefix and signing keys, the services started as separate processes on
// free ports (the same topology as `./cfa start` and the end-to-end tests) with the settings
// `./cfa start` gives them, and a teardown that removes every trace. Plus the few API calls
// scenarios need to set up data through the gateway.
import { startIsolatedStack } from "../../scripts/isolated-stack";
import { SERVICES, type ServiceName, type Stack } from "../../scripts/stack";

/** The levels every service's LOG_LEVEL accepts (libs/config). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Gateway rate limits a scenario may switch off (RATE_LIMIT_<name>=0) because its load or set-up needs it. */
export type RateLimit = "AUTH" | "DEMO_ACCOUNTS" | "PLEDGES";

/**
 * LOG_LEVEL as `./cfa start` sets it (scripts/start.ts: the environment's LOG_LEVEL, else info).
 * Every other setting (pool sizes, workers, audit interval, timeouts) is left at its default, as
 * `./cfa start` leaves it; both pass this process's environment on to the services.
 */
export function startLogLevel(): string {
  return process.env.LOG_LEVEL ?? "info";
}

export interface Platform {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  stack: Stack;
  database: string;
  databaseUrl: string;
  redisPrefix: string;
  busPrefix: string;
  logsDir: string;
  /** What the services were given on top of `./cfa start`'s settings (for the JSON record). */
  settings: Record<string, string>;
  /** Stops the services and removes the database, stream and Redis keys; returns what failed. */
  teardown(options?: { keepLogs?: boolean }): Promise<string[]>;
}

export interface PlatformOptions {
  /** LOG_LEVEL of every service; default: as `./cfa start` (see startLogLevel). */
  logLevel?: string;
  /** Rate limits the scenario needs off; every other limit keeps `./cfa start`'s default. */
  rateLimitsOff?: readonly RateLimit[];
  /** Extra service environment (e.g. a throw-away admin account). */
  env?: Record<string, string>;
  /** Servers of the scenario's own (one it takes away), instead of the machine's shared ones. */
  servers?: { redisUrl?: string; databaseServerUrl?: string; natsUrl?: string };
  log(message: string): void;
}

/**
 * Starts every service as `./cfa start` does (LOG_LEVEL info, every worker, default pools and
 * intervals), except: its own database/prefixes/keys/ports, logs to files instead of the terminal,
 * the rate limits in `rateLimitsOff` at 0, and `env`.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const settings: Record<string, string> = {
    LOG_LEVEL: options.logLevel ?? startLogLevel(),
    ...Object.fromEntries((options.rateLimitsOff ?? []).map((limit) => [`RATE_LIMIT_${limit}`, "0"])),
    ...options.env,
  };
  const shown = Object.entries(settings)
    .filter(([k]) => !/PASSWORD|SECRET/.test(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  options.log(`starting ${SERVICES.join(", ")} (${shown})`);
  const iso = await startIsolatedStack({ label: "bench", env: settings, ...options.servers });
  options.log(`started (database ${iso.databaseName}, logs ${iso.logsDir})`);
  return {
    gatewayUrl: iso.stack.urls.gateway,
    urls: iso.stack.urls,
    stack: iso.stack,
    database: iso.databaseName,
    databaseUrl: iso.databaseUrl,
    redisPrefix: iso.redisPrefix,
    busPrefix: iso.busPrefix,
    logsDir: iso.logsDir,
    settings: Object.fromEntries(Object.entries(settings).filter(([k]) => !/PASSWORD|SECRET/.test(k))),
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
