// Starts the platform as separate processes (one per service), each with its own port and the
// shared infrastructure settings, and waits until every one reports /ready. Used by the start
// command, the end-to-end tests and the benchmarks, so all three run the same topology.
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { freePort, type ServiceKeySet, trustedKeysJson } from "@careforall/http";
import { prettyStream } from "@careforall/log";

export const ROOT = join(import.meta.dir, "..");

export const SERVICES = ["auth", "campaign", "bank", "payment", "pledge", "notification", "chat", "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * The services that only drain the money pipeline (events in, bank calls, totals). Under a burst
 * they run at a lower CPU priority than the accept path (gateway, pledge, auth), so donations keep
 * being accepted at full speed and the queue is drained afterwards (DESIGN "Cost per donation":
 * a burst waits in the stream, never in the accept path). CFA_PIPELINE_NICE sets the niceness
 * (default 10; 0 turns it off). In compose the same intent is cpu_shares.
 */
export const PIPELINE_SERVICES: ReadonlySet<ServiceName> = new Set(["payment", "bank", "campaign"]);

function priorityPrefix(name: ServiceName): string[] {
  const level = Number(process.env.CFA_PIPELINE_NICE ?? "10");
  if (!PIPELINE_SERVICES.has(name) || !Number.isInteger(level) || level <= 0) return [];
  const nice = Bun.which("nice");
  return nice ? [nice, "-n", String(Math.min(level, 19))] : [];
}

/**
 * Runtime settings every service process gets unless the environment sets them. mimalloc (Bun's
 * native allocator) by default hands freed memory back to the OS after ~10 ms and faults it in
 * again on the next allocation: under load its scavenger thread and those faults took ~7% of the
 * machine, and the services ~35% more CPU per donation (`./cfa bench donate`: 966–1,178 accepted/s
 * and 191–211 captured/s with it; 1,406–1,501 and 289–304 without). -1 keeps freed memory for
 * reuse: resident memory stays at its high-water mark (~35% more under the bench's burst).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "-1" };

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 3000,
  auth: 3101,
  campaign: 3102,
  pledge: 3103,
  payment: 3104,
  bank: 3105,
  notification: 3106,
  chat: 3107,
};

export interface StackOptions {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  natsUrl: string;
  busPrefix: string;
  /** Auth's JWT key pair, and one service-identity key pair per service. */
  keys: { privateKeyPem: string; publicKeyPem: string; services: ServiceKeySet };
  ports?: Partial<Record<ServiceName, number>>;
  /** Extra environment for every service (e.g. RATE_LIMIT_AUTH, LOG_LEVEL). */
  env?: Record<string, string>;
  /** Extra environment for one service only, on top of `env` (e.g. a test-only switch). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * Where each service's stdout/stderr goes: "inherit" streams the JSON lines to this terminal,
   * "pretty" rewrites them for a person (one line each, a colour per service), a dir keeps one file
   * per service.
   */
  logs?: "inherit" | "pretty" | { dir: string };
  services?: readonly ServiceName[];
  readyTimeoutMs?: number;
}

export interface RunningService {
  name: ServiceName;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
}

export interface Stack {
  urls: Record<ServiceName, string>;
  services: Map<ServiceName, RunningService>;
  /** SIGKILL one service (chaos); `restart` brings it back. */
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Relaunches a service; `env` (optional) replaces its serviceEnv from now on. */
  restart(name: ServiceName, env?: Record<string, string>): Promise<void>;
  /**
   * Starts one more process of a service on a free port beside the first (a second gateway, say),
   * ready when it resolves; stopped with the stack. `kill`/`restart` address the first one only.
   * `env` is added to this process's environment only (e.g. a second gateway sent to a second pledge).
   */
  replica(name: ServiceName, env?: Record<string, string>): Promise<RunningService>;
  stop(): Promise<void>;
}

/** A free port for every service, for stacks that must not collide with anything else. */
export function freePorts(): Record<ServiceName, number> {
  return Object.fromEntries(SERVICES.map((s) => [s, freePort()])) as Record<ServiceName, number>;
}

export async function waitReady(url: string, timeoutMs: number, proc?: RunningService["proc"]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${url} exited with code ${proc.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        if (!proc) return;
        // Ready is not enough: another stack's process may own this port. Only our pid counts.
        const health = (await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).json()) as {
          pid?: number;
        };
        if (health.pid === proc.pid) return;
        last = `port answered by pid ${health.pid}, not ours (${proc.pid})`;
      } else {
        last = `${res.status} ${await res.text()}`;
      }
    } catch (err) {
      last = String(err);
    }
    await Bun.sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}

/** Copies one output stream of a service to `out`, each JSON line made readable (prettyStream). */
async function prettyPump(
  name: ServiceName,
  stream: ReadableStream<Uint8Array>,
  out: (text: string) => void,
  colour: boolean,
): Promise<void> {
  const lines = prettyStream(name, out, { colour });
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    lines.write(decoder.decode(value, { stream: true }));
  }
  lines.end();
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`])) as Record<
    ServiceName,
    string
  >;
  const wanted = options.services ?? SERVICES;
  const serviceEnv: Partial<Record<ServiceName, Record<string, string>>> = { ...options.serviceEnv };
  const services = new Map<ServiceName, RunningService>();
  if (typeof options.logs === "object") mkdirSync(options.logs.dir, { recursive: true });

  const env: Record<string, string> = {
    ...RUNTIME_ENV,
    ...(process.env as Record<string, string>),
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.redisPrefix,
    NATS_URL: options.natsUrl,
    BUS_PREFIX: options.busPrefix,
    JWT_PRIVATE_KEY: options.keys.privateKeyPem,
    JWT_PUBLIC_KEY: options.keys.publicKeyPem,
    // Every service trusts every service's key; each route names which of them it accepts.
    SERVICE_TRUSTED_KEYS: trustedKeysJson(options.keys.services),
    AUTH_URL: urls.auth,
    CAMPAIGN_URL: urls.campaign,
    PLEDGE_URL: urls.pledge,
    PAYMENT_URL: urls.payment,
    BANK_URL: urls.bank,
    NOTIFICATION_URL: urls.notification,
    CHAT_URL: urls.chat,
    // The bank calls back through the public origin, as an external bank would.
    WEBHOOK_URL: `${urls.gateway}/api/webhooks/bank`,
    ...options.env,
  };

  /** Extra processes started by replica(): stopped with the rest. */
  const replicas: RunningService[] = [];

  function launch(name: ServiceName, replicaPort?: number, replicaEnv?: Record<string, string>): RunningService {
    const out =
      options.logs === "inherit"
        ? "inherit"
        : options.logs === "pretty"
          ? "pipe"
          : options.logs
            ? openSync(join(options.logs.dir, `${name}.log`), "a")
            : "ignore";
    // CFA_BUN_FLAGS (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof") goes to every service's bun: profiling a bench.
    const flags = (process.env.CFA_BUN_FLAGS ?? "").split(" ").filter(Boolean);
    const proc = Bun.spawn([...priorityPrefix(name), "bun", ...flags, join(ROOT, "apps", name, "src", "main.ts")], {
      cwd: ROOT,
      env: {
        ...env,
        SERVICE_PRIVATE_KEY: options.keys.services[name].privateKeyPem,
        ...serviceEnv[name],
        ...replicaEnv,
        PORT: String(replicaPort ?? ports[name]),
      },
      stdout: out,
      stderr: out,
    });
    if (options.logs === "pretty") {
      const colour = Boolean(process.stdout.isTTY);
      void prettyPump(name, proc.stdout as ReadableStream<Uint8Array>, (text) => process.stdout.write(text), colour);
      void prettyPump(name, proc.stderr as ReadableStream<Uint8Array>, (text) => process.stderr.write(text), colour);
    }
    if (replicaPort !== undefined) {
      const replica = { name, url: `http://127.0.0.1:${replicaPort}`, proc };
      replicas.push(replica);
      return replica;
    }
    const svc = { name, url: urls[name], proc };
    services.set(name, svc);
    return svc;
  }

  const timeout = options.readyTimeoutMs ?? 30_000;
  async function stopAll() {
    const all = [...replicas, ...services.values()];
    for (const svc of all) svc.proc.kill("SIGTERM");
    const exited = Promise.all(all.map((s) => s.proc.exited));
    const timedOut = await Promise.race([exited.then(() => false), Bun.sleep(5000).then(() => true)]);
    if (timedOut) {
      for (const svc of all) svc.proc.kill("SIGKILL");
      await exited;
    }
  }
  try {
    // Upstreams first: the gateway's /ready checks them.
    const backends = wanted.filter((s) => s !== "gateway").map((s) => launch(s));
    await Promise.all(backends.map((s) => waitReady(s.url, timeout, s.proc)));
    if (wanted.includes("gateway")) {
      const gw = launch("gateway");
      await waitReady(gw.url, timeout, gw.proc);
    }
  } catch (err) {
    // Never leave half a platform running behind a failed start.
    await stopAll();
    throw err;
  }

  return {
    urls,
    services,
    async kill(name, signal = "SIGKILL") {
      const svc = services.get(name);
      if (!svc) return;
      svc.proc.kill(signal);
      await svc.proc.exited;
    },
    async restart(name, env) {
      if (env) serviceEnv[name] = env;
      const svc = launch(name);
      await waitReady(svc.url, timeout, svc.proc);
    },
    async replica(name, env) {
      const svc = launch(name, freePort(), env);
      await waitReady(svc.url, timeout, svc.proc);
      return svc;
    },
    stop: stopAll,
  };
}
