// A throwaway copy of the platform for one test file or benchmark run: its own database, Redis
// key prefix, bus stream and signing keys, every service on free ports — and one cleanup that
// removes every trace. The end-to-end tests, the system tests and the benchmarks all use it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteStream } from "@careforall/bus";
import { createRedisClient } from "@careforall/cache";
import { createTestDatabase } from "@careforall/db";
import { generateServiceKeySet, type ServiceKeySet } from "@careforall/http";
import { createTestKeys, TEST_NATS_URL, TEST_REDIS_URL, uniqueName } from "@careforall/testkit";
import { freePorts, type ServiceName, type Stack, startStack } from "./stack";

export interface IsolatedStackOptions {
  /** Names the database, Redis prefix, stream and logs folder, so leftovers can be told apart. */
  label: string;
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  readyTimeoutMs?: number;
  /** A Redis of the test's own (one it kills and restarts); the shared test Redis by default. */
  redisUrl?: string;
  /** A PostgreSQL server of the test's own (any database on it); the shared test server by default. */
  databaseServerUrl?: string;
  /** A NATS server of the test's own; the shared test NATS by default. */
  natsUrl?: string;
}

export interface IsolatedStack {
  stack: Stack;
  keys: { privateKeyPem: string; publicKeyPem: string; services: ServiceKeySet };
  databaseUrl: string;
  databaseName: string;
  redisPrefix: string;
  busPrefix: string;
  logsDir: string;
  /** The last `chars` characters of each service's log. */
  logTails(chars?: number): string;
  /** Stops the services and removes database, stream, Redis keys and (unless kept) the logs; returns what failed. */
  cleanup(options?: { keepLogs?: boolean }): Promise<string[]>;
}

export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const redis = createRedisClient(url);
  try {
    await redis.connect();
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

function tails(dir: string, chars: number): string {
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return "";
  }
  return files.map((f) => `--- ${f} (tail)\n${readFileSync(join(dir, f), "utf8").slice(-chars)}`).join("\n");
}

/** Starting again on fresh ports helps only when another process took a port we had picked. */
const PORT_RACE = /exited with code|not ours/;

export async function startIsolatedStack(options: IsolatedStackOptions): Promise<IsolatedStack> {
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const natsUrl = options.natsUrl ?? TEST_NATS_URL;
  const redisPrefix = `${uniqueName(options.label)}:`;
  const busPrefix = uniqueName(options.label);
  const logsDir = mkdtempSync(join(tmpdir(), `cfa-${options.label}-`));
  const db = await createTestDatabase(options.label, options.databaseServerUrl);
  const keys = { ...(await createTestKeys()), services: await generateServiceKeySet() };
  let stack: Stack | undefined;

  async function cleanup({ keepLogs = false } = {}): Promise<string[]> {
    const failed: string[] = [];
    const step = async (label: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (err) {
        failed.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    if (stack) await step("stop services", () => (stack as Stack).stop());
    await step("drop database", () => db.drop());
    // The services create the stream and keys; removing them is harmless when they never did.
    await step("delete NATS stream", () => deleteStream(natsUrl, busPrefix).catch(() => false));
    await step("delete Redis keys", () => deleteRedisKeys(redisUrl, redisPrefix));
    if (!keepLogs && failed.length === 0) rmSync(logsDir, { recursive: true, force: true });
    return failed;
  }

  for (let attempt = 1; !stack; attempt++) {
    try {
      stack = await startStack({
        databaseUrl: db.url,
        redisUrl,
        redisPrefix,
        natsUrl,
        busPrefix,
        keys,
        ports: freePorts(),
        ...(options.env ? { env: options.env } : {}),
        ...(options.serviceEnv ? { serviceEnv: options.serviceEnv } : {}),
        logs: { dir: logsDir },
        readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      });
    } catch (err) {
      // startStack has already stopped whatever it launched.
      if (attempt < 3 && PORT_RACE.test(String(err))) continue;
      const logs = tails(logsDir, 4000);
      await cleanup({ keepLogs: true });
      throw new Error(`the stack did not start: ${String(err)}\n(service logs in ${logsDir})\n${logs}`);
    }
  }

  return {
    stack,
    keys,
    databaseUrl: db.url,
    databaseName: db.name,
    redisPrefix,
    busPrefix,
    logsDir,
    logTails: (chars = 3000) => tails(logsDir, chars),
    cleanup,
  };
}
