// compose.yaml and deploy/ without a Docker engine: the file is a valid Compose file (the Compose
// Specification's schema) that publishes only the gateway, keeps everything else on an internal
// network and takes every secret from .env with no default; `./cfa deploy-env` writes a .env that
// resolves it and that every service's production configuration accepts; and the servers'
// set-up files are run for real — PostgreSQL's init script on a private server with password
// logins, Redis's ACL and NATS's users on private servers — with the URLs compose gives each
// service, so a mismatch between compose.yaml and deploy/ fails here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Bus,
  createJetStreamBus,
  createNatsFanout,
  deleteStream,
  type EventEnvelope,
  type Fanout,
} from "@careforall/bus";
import { createRedisCache, createRedisClient, createRedisRateLimiter } from "@careforall/cache";
import { parseConfig } from "@careforall/config";
import { ensureDatabase, migrate } from "@careforall/db";
import { freePort, identityFromConfig, SERVICES, type ServiceName } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { type PostgresStore, runCommand, startPostgresServer, waitFor } from "@careforall/testkit";
import Ajv from "ajv";
import type { Subprocess } from "bun";
import type Redis from "ioredis";
import { importPKCS8, importSPKI } from "jose";
import postgres from "postgres";
import { parse as parseYaml } from "yaml";
import { AuthConfigSchema } from "../apps/auth/src/config";
import { BankConfigSchema } from "../apps/bank/src/config";
import { CampaignConfigSchema } from "../apps/campaign/src/config";
import { ChatConfigSchema } from "../apps/chat/src/config";
import { GatewayConfigSchema } from "../apps/gateway/src/config";
import { NotificationConfigSchema } from "../apps/notification/src/config";
import { PaymentConfigSchema } from "../apps/payment/src/config";
import { PledgeConfigSchema } from "../apps/pledge/src/config";
import { generateDeployEnv, renderEnvFile } from "../scripts/deploy-env";

const ROOT = join(import.meta.dir, "..");
const DEPLOY = join(ROOT, "deploy");
const APPS = ["auth", "campaign", "pledge", "payment", "bank", "notification", "chat", "gateway"] as const;
const DB_APPS = ["auth", "campaign", "pledge", "payment", "bank", "notification", "chat"] as const;
const SERVERS = ["postgres", "redis", "nats"] as const;
/** Variables compose may default: none of them is a secret. */
const NOT_SECRETS = new Set(["OTEL_EXPORTER_OTLP_ENDPOINT", "ADMIN_EMAIL", "DEMO_BANK"]);
const quiet = createLogger({ service: "deploy-test", level: "silent" });

// ── compose.yaml as Compose reads it ─────────────────────────────────────────────────────────────

interface ComposeService {
  image?: string;
  networks?: string[] | Record<string, unknown>;
  ports?: unknown[];
  expose?: unknown[];
  network_mode?: string;
  environment?: Record<string, string | number | null>;
  command?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const composeText = readFileSync(join(ROOT, "compose.yaml"), "utf8");
/** With YAML merge keys resolved (`<<: *service`), as Compose does. */
const compose = parseYaml(composeText, { merge: true }) as ComposeFile;

const networksOf = (s: ComposeService): string[] =>
  Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? { default: null });

/** `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`. */
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

function variablesIn(text: string): { name: string; op: string | undefined }[] {
  return [...text.matchAll(VARIABLE)].map((m) => ({ name: m[1] as string, op: m[2] }));
}

/** Compose's interpolation of one value; a `?` variable that is unset or empty fails, as in Compose. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replaceAll("$$", "\u0000").replace(VARIABLE, (_, name: string, op: string | undefined, arg: string) => {
    const value = env[name];
    const unset = value === undefined || (op?.startsWith(":") && value === "");
    if (op?.endsWith("?") && unset) throw new Error(`${name}: ${arg}`);
    if (op?.endsWith("-") && unset) return arg;
    return value ?? "";
  });
}

/** A service's environment after interpolation (numbers as strings, as containers see them). */
function environmentOf(service: string, env: Record<string, string>): Record<string, string> {
  const raw = compose.services[service]?.environment ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v ?? ""), env)]));
}

/** A compose .env file: KEY=bare, KEY="with \n escapes", KEY='literal'; # comments. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not an .env line: ${line}`);
    const [, key, raw] = m as unknown as [string, string, string];
    if (raw.startsWith('"')) env[key] = raw.slice(1, -1).replaceAll("\\n", "\n");
    else if (raw.startsWith("'")) env[key] = raw.slice(1, -1);
    else env[key] = raw;
  }
  return env;
}

/** A connection URL of compose pointed at a private test server instead of the container. */
function retarget(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.toString();
}

let env: Record<string, string>;
beforeAll(async () => {
  env = await generateDeployEnv();
});

describe("compose.yaml", () => {
  test("is a valid Compose file by the Compose Specification's schema", () => {
    // Its `$schema` names draft-07 by an https URL that Ajv (which is draft-07) does not know as such.
    const { $schema: _, ...schema } = JSON.parse(
      readFileSync(join(DEPLOY, "compose-spec", "compose-spec.json"), "utf8"),
    );
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema's own sanity: it refuses what Compose refuses.
    expect(validate({ services: { x: { image: "a", networks: 3 } } })).toBe(false);
  });

  test("only the gateway publishes a port; services and servers sit on the internal network only", () => {
    const services = compose.services;
    expect(Object.keys(services).sort()).toEqual([...APPS, ...SERVERS, "install"].sort());
    const publishing = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(publishing.map(([name]) => name)).toEqual(["gateway"]);
    for (const [name, s] of Object.entries(services)) expect([name, s.network_mode]).toEqual([name, undefined]);

    expect(compose.networks?.internal?.internal).toBe(true);
    expect(compose.networks?.public?.internal ?? false).toBe(false);
    expect(networksOf(services.gateway as ComposeService).sort()).toEqual(["internal", "public"]);
    for (const name of [...APPS.filter((a) => a !== "gateway"), ...SERVERS])
      expect([name, networksOf(services[name] as ComposeService)]).toEqual([name, ["internal"]]);
    // The one-shot installer reaches the registry, nothing of the platform, and holds no secret.
    expect(networksOf(services.install as ComposeService)).toEqual(["public"]);
    expect(services.install?.environment).toBeUndefined();
  });

  test("every DATABASE_URL, REDIS_URL and NATS_URL logs in as that service, with a password from .env", () => {
    const dbRoles = new Set<string>();
    for (const app of APPS) {
      const raw = compose.services[app]?.environment ?? {};
      for (const key of ["DATABASE_URL", "REDIS_URL", "NATS_URL"]) {
        const url = raw[key];
        if (url === undefined) continue;
        // scheme://<service>:${<SERVICE>_<KIND>_PASSWORD:?…}@host:port
        const m = /^(\w+):\/\/([^:@/]+):\$\{([A-Z_]+):\?[^}]+\}@[\w.-]+:\d+(\/\w+)?$/.exec(String(url));
        expect([app, key, m !== null]).toEqual([app, key, true]);
        const [, , user, variable] = m as unknown as string[];
        expect([app, key, user]).toEqual([app, key, app]);
        expect(variable).toStartWith(`${app.toUpperCase()}_`);
        if (key === "DATABASE_URL") dbRoles.add(user as string);
      }
      expect([app, raw.NATS_URL !== undefined]).toEqual([app, true]);
    }
    // Every service with state has its own role; the gateway has none.
    expect([...dbRoles].sort()).toEqual([...DB_APPS].sort());
    expect(compose.services.gateway?.environment?.DATABASE_URL).toBeUndefined();
    expect(compose.services.gateway?.environment?.REDIS_URL).toBeDefined();
  });

  test("no secret has a default: every secret is required from .env (VAR:?), only non-secrets default", () => {
    const secretKey = /PASSWORD|SECRET|PRIVATE_KEY|TRUSTED_KEYS/;
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        const text = String(value ?? "");
        for (const v of variablesIn(text))
          if (v.op !== ":?") expect([name, key, v.name, NOT_SECRETS.has(v.name)]).toEqual([name, key, v.name, true]);
        if (secretKey.test(key))
          expect([name, key, text]).toEqual([name, key, expect.stringMatching(/^\$\{\w+:\?[^}]+\}$/)]);
      }
    }
    // Every default anywhere in the file (commands, ports…) belongs to a non-secret.
    for (const v of variablesIn(composeText))
      if (v.op !== ":?") expect([v.name, NOT_SECRETS.has(v.name)]).toEqual([v.name, true]);
  });

  test("each service has its own service key, all share the trusted keys, and all run in production", () => {
    const privateKeys = new Set<string>();
    for (const app of APPS) {
      const raw = compose.services[app]?.environment ?? {};
      expect([app, raw.NODE_ENV]).toEqual([app, "production"]);
      expect([app, raw.SERVICE_PRIVATE_KEY]).toEqual([
        app,
        expect.stringMatching(new RegExp(`^\\$\\{${app.toUpperCase()}_SERVICE_PRIVATE_KEY:\\?`)),
      ]);
      expect([app, raw.SERVICE_TRUSTED_KEYS]).toEqual([app, expect.stringMatching(/^\$\{SERVICE_TRUSTED_KEYS:\?/)]);
      privateKeys.add(String(raw.SERVICE_PRIVATE_KEY));
    }
    expect(privateKeys.size).toBe(APPS.length);
  });

  test("with the .env of ./cfa deploy-env everything resolves, and every service's production config accepts it", async () => {
    // Unset, the file refuses to resolve (Compose stops before starting anything).
    expect(() => environmentOf("auth", {})).toThrow(/run \.\/cfa deploy-env/);

    const used = new Set(
      variablesIn(composeText)
        .filter((v) => !NOT_SECRETS.has(v.name))
        .map((v) => v.name),
    );
    const written = new Set(Object.keys(env).filter((k) => !NOT_SECRETS.has(k)));
    expect([...written].sort()).toEqual([...used].sort());

    const schemas = {
      auth: AuthConfigSchema,
      campaign: CampaignConfigSchema,
      pledge: PledgeConfigSchema,
      payment: PaymentConfigSchema,
      bank: BankConfigSchema,
      notification: NotificationConfigSchema,
      chat: ChatConfigSchema,
      gateway: GatewayConfigSchema,
    } as const;
    const identities = new Map<ServiceName, Awaited<ReturnType<typeof identityFromConfig>>>();
    for (const app of APPS) {
      const serviceEnv = environmentOf(app, env);
      // parseConfig with NODE_ENV=production refuses development or missing secrets (throws ConfigError).
      const config = parseConfig(app, schemas[app], serviceEnv) as Record<string, unknown>;
      expect(config.NODE_ENV).toBe("production");
      identities.set(app, await identityFromConfig(app, serviceEnv));
    }
    // The keys fit together: a token the gateway mints for the bank is the gateway's to the bank.
    const gateway = identities.get("gateway");
    const bank = identities.get("bank");
    expect(await bank?.verify(await gateway?.tokenFor("bank"))).toBe("gateway");
    // The demo bank stays closed unless .env says otherwise.
    expect(environmentOf("bank", env).DEMO_BANK).toBe("off");
  });
});

describe("./cfa deploy-env", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfa-deploy-env-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("writes a private .env of fresh, distinct secrets and working Ed25519 keys, and keeps an existing one", async () => {
    const out = join(dir, ".env");
    const first = await runCommand([join(ROOT, "cfa"), "deploy-env", "--out", out], { cwd: ROOT });
    expect(first.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, "utf8");
    const written = parseEnvFile(text);
    expect(Object.keys(written).sort()).toEqual(Object.keys(env).sort());

    const secrets = Object.entries(written).filter(([k]) => /PASSWORD|SECRET/.test(k));
    for (const [key, value] of secrets) expect([key, value]).toEqual([key, expect.stringMatching(/^s[0-9a-f]{64}$/)]);
    expect(new Set(secrets.map(([, v]) => v)).size).toBe(secrets.length);
    // A second run draws other values.
    const other = renderEnvFile(await generateDeployEnv());
    expect(parseEnvFile(other).WEBHOOK_SECRET).not.toBe(written.WEBHOOK_SECRET);

    await importPKCS8(written.JWT_PRIVATE_KEY as string, "EdDSA");
    await importSPKI(written.JWT_PUBLIC_KEY as string, "EdDSA");
    const trusted = JSON.parse(written.SERVICE_TRUSTED_KEYS as string) as Record<string, string>;
    expect(Object.keys(trusted).sort()).toEqual([...SERVICES].sort());
    for (const s of SERVICES) await importPKCS8(written[`${s.toUpperCase()}_SERVICE_PRIVATE_KEY`] as string, "EdDSA");

    // Run again: the file (whose passwords PostgreSQL was set up with) is kept.
    const again = await runCommand([join(ROOT, "cfa"), "deploy-env", "--out", out], { cwd: ROOT });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("--force");
    expect(readFileSync(out, "utf8")).toBe(text);
  });

  test("--help prints its usage and writes nothing", async () => {
    const out = join(dir, "help.env");
    const run = await runCommand([join(ROOT, "cfa"), "deploy-env", "--out", out, "--help"], { cwd: ROOT });
    expect(run.code).toBe(0);
    expect(run.stdout).toStartWith("usage: ./cfa deploy-env");
    expect(existsSync(out)).toBe(false);
  });
});

// ── The servers' set-up, run for real ─────────────────────────────────────────────────────────────

class ServerExited extends Error {
  constructor(
    readonly code: number,
    output: string,
  ) {
    super(`exited with ${code}: ${output.slice(-800)}`);
  }
}

async function outputOf(proc: Subprocess): Promise<string> {
  const read = (stream: unknown) =>
    stream instanceof ReadableStream ? new Response(stream).text().catch(() => "") : Promise.resolve("");
  return (await Promise.all([read(proc.stdout), read(proc.stderr)])).join("\n").trim();
}

/**
 * Starts a server on a port picked right now, and again on another one if it exits before it
 * listens (another process may take a free port between the pick and the bind).
 */
async function startOnFreePort(launch: (port: number) => Subprocess): Promise<{ proc: Subprocess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = freePort();
    const proc = launch(port);
    try {
      await waitForPort(port, proc);
      return { proc, port };
    } catch (err) {
      proc.kill("SIGKILL");
      if (attempt >= 3 || !(err instanceof ServerExited)) throw err;
    }
  }
}

async function waitForPort(port: number, proc?: Subprocess): Promise<void> {
  const outcome = await waitFor(
    async () => {
      // A server that exited will never listen: stop waiting (and say what it said).
      if (proc && proc.exitCode !== null) return "exited" as const;
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return "listening" as const;
    },
    { what: `port ${port}` },
  );
  if (outcome === "exited" && proc) throw new ServerExited(proc.exitCode ?? -1, await outputOf(proc));
}

describe("deploy/postgres", () => {
  let server: PostgresStore;
  const urls = {} as Record<(typeof DB_APPS)[number], string>;
  const code = (p: Promise<unknown>) => p.then(() => "ok").catch((e: { code?: string }) => e.code ?? String(e));

  beforeAll(async () => {
    server = await startPostgresServer();
    const root = postgres(server.url, { max: 1, onnotice: () => {} });
    // As the postgres image: the database of POSTGRES_DB, password logins for everyone but the
    // superuser on the socket-less local TCP (the image asks every TCP client for a password).
    await root.unsafe(`create database careforall`);
    const [{ hba_file: hba } = { hba_file: "" }] = await root`show hba_file`;
    await root.unsafe(
      `copy (select unnest(array['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256'])) to '${hba}'`,
    );
    await root`select pg_reload_conf()`;
    await root.end({ timeout: 5 });

    const postgresEnv = environmentOf("postgres", env);
    const init = await runCommand(["sh", join(DEPLOY, "postgres", "10-roles.sh")], {
      env: {
        ...process.env,
        ...postgresEnv,
        POSTGRES_USER: "postgres",
        PGHOST: "127.0.0.1",
        PGPORT: String(server.port),
        ROLES_PSQL: join(DEPLOY, "postgres", "roles.psql"),
      },
    });
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    for (const app of DB_APPS) urls[app] = retarget(environmentOf(app, env).DATABASE_URL as string, server.port);
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });

  test("each service starts as its own role with its password: ensureDatabase and its real migrations", async () => {
    await Promise.all(
      DB_APPS.map(async (app) => {
        await ensureDatabase(urls[app]);
        await migrate({
          url: urls[app],
          migrationsFolder: join(ROOT, "apps", app, "src", "db", "migrations"),
          schema: app,
        });
      }),
    );
    const root = postgres(server.url.replace(/\/postgres$/, "/careforall"), { max: 1, onnotice: () => {} });
    try {
      const owners = await root`
        select schemaname, array_agg(distinct tableowner::text) as owners from pg_tables
        where schemaname = any(${DB_APPS as unknown as string[]}) group by schemaname order by schemaname`;
      expect(owners.map((r) => [r.schemaname, r.owners])).toEqual([...DB_APPS].sort().map((s) => [s, [s]]));
      const roles =
        await root`select rolname, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = any(${DB_APPS as unknown as string[]})`;
      expect(roles.every((r) => !r.rolsuper && !r.rolcreatedb && !r.rolcreaterole)).toBe(true);
      expect(roles).toHaveLength(DB_APPS.length);
    } finally {
      await root.end({ timeout: 5 });
    }
    // Started again (a restart, a second replica): nothing to apply, nothing refused.
    await migrate({
      url: urls.campaign,
      migrationsFolder: join(ROOT, "apps/campaign/src/db/migrations"),
      schema: "campaign",
    });
  });

  test("a role reaches only its own schema: no other service's tables, no new schema, no public, no other database", async () => {
    for (const app of DB_APPS) {
      const sql = postgres(urls[app], { max: 1, onnotice: () => {} });
      try {
        expect([app, await code(sql.unsafe(`select count(*) from ${app}.__migrations`))]).toEqual([app, "ok"]);
        for (const other of DB_APPS.filter((o) => o !== app)) {
          expect([app, other, await code(sql.unsafe(`select * from ${other}.__migrations limit 1`))]).toEqual([
            app,
            other,
            "42501",
          ]);
          expect([app, other, await code(sql.unsafe(`insert into ${other}.__migrations (hash) values ('x')`))]).toEqual(
            [app, other, "42501"],
          );
        }
        expect([app, await code(sql.unsafe(`create schema intruder`))]).toEqual([app, "42501"]);
        expect([app, await code(sql.unsafe(`create table public.t (id int)`))]).toEqual([app, "42501"]);
        expect([app, await code(sql.unsafe(`create database other`))]).toEqual([app, "42501"]);
      } finally {
        await sql.end({ timeout: 5 });
      }
      // Nor the maintenance database.
      const maintenance = postgres(urls[app].replace(/\/careforall$/, "/postgres"), { max: 1, onnotice: () => {} });
      expect([app, await code(maintenance`select 1`)]).toEqual([app, "42501"]);
      await maintenance.end({ timeout: 5 });
    }
  });

  test("a wrong password, or a service's role with another's password, is refused", async () => {
    const wrong = new URL(urls.pledge);
    wrong.password = env.PAYMENT_DB_PASSWORD as string;
    const sql = postgres(wrong.toString(), { max: 1, onnotice: () => {} });
    expect(await code(sql`select 1`)).toBe("28P01");
    await sql.end({ timeout: 5 });
  });

  test("the init script stops, naming the variable, when a password is missing", async () => {
    const run = await runCommand(["sh", join(DEPLOY, "postgres", "10-roles.sh")], {
      env: {
        PATH: process.env.PATH,
        POSTGRES_USER: "postgres",
        POSTGRES_DB: "careforall",
        PGHOST: "127.0.0.1",
        PGPORT: String(server.port),
      },
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("AUTH_DB_PASSWORD");
  });
});

describe("deploy/redis", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfa-redis-acl-"));
  // Picked when the server starts (startOnFreePort), not when the file loads.
  let port = 0;
  let proc: Subprocess;
  const clients: Redis[] = [];
  const start = (extraEnv: Record<string, string | undefined>) =>
    Bun.spawn(
      [
        "sh",
        join(DEPLOY, "redis", "start.sh"),
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      {
        env: { PATH: process.env.PATH, REDIS_ACL_OUT: join(dir, "users.acl"), ...extraEnv },
        stdout: "ignore",
        stderr: "pipe",
      },
    );
  const client = async (url: string) => {
    const c = createRedisClient(url);
    clients.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    ({ proc, port } = await startOnFreePort((picked) => {
      port = picked;
      return start(environmentOf("redis", env));
    }));
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    proc?.kill("SIGKILL");
    await proc?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test("the services that use Redis log in with compose's REDIS_URL; cache and limits work under their prefix", async () => {
    for (const app of ["gateway", "auth", "notification", "chat"]) {
      const serviceEnv = environmentOf(app, env);
      const redis = await client(retarget(serviceEnv.REDIS_URL as string, port));
      expect(await redis.acl("WHOAMI")).toBe(app);
      const prefix = serviceEnv.REDIS_PREFIX ?? "cfa:";
      const cache = createRedisCache(redis, prefix);
      await cache.set(`${app}:k`, "v", 60);
      expect(await cache.get(`${app}:k`)).toBe("v");
      expect(await cache.setVersioned(`${app}:snap`, 1, "one")).toBe(true);
      expect((await createRedisRateLimiter(redis, prefix).hit(`${app}:ip`, 5, 60)).allowed).toBe(true);
      expect(await cache.ping()).toBe(true);
    }
  });

  test("no login, a wrong password, keys outside the prefix and dangerous commands are refused", async () => {
    // Without logging in (the default user is off), as a raw client: the first command is refused.
    const reply = await new Promise<string>((resolve, reject) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open: (s) => void s.write("GET cfa:x\r\n"),
          data: (s, data) => {
            resolve(data.toString());
            s.end();
          },
          error: (_s, err) => reject(err),
        },
      }).catch(reject);
    });
    expect(reply).toStartWith("-NOAUTH");

    const wrong = createRedisClient(`redis://gateway:wrong@127.0.0.1:${port}`);
    clients.push(wrong);
    const errors: string[] = [];
    wrong.on("error", (e: Error) => errors.push(String(e)));
    await wrong.connect().catch(() => {});
    await waitFor(() => errors.some((e) => /WRONGPASS/.test(e)), { what: "WRONGPASS" });

    const gateway = await client(retarget(environmentOf("gateway", env).REDIS_URL as string, port));
    const refused = async (p: Promise<unknown>) => String(await p.then(() => "ok").catch((e) => e));
    expect(await refused(gateway.get("other:key"))).toMatch(/NOPERM/);
    expect(await refused(gateway.keys("*"))).toMatch(/NOPERM/);
    expect(await refused(gateway.flushall())).toMatch(/NOPERM/);
    expect(await refused(gateway.config("GET", "requirepass"))).toMatch(/NOPERM/);
    expect(await refused(gateway.acl("LIST"))).toMatch(/NOPERM/);
    expect(await refused(gateway.publish("cfa:chan", "x"))).toMatch(/NOPERM/);
  });

  test("start.sh refuses to start, naming it, when a password is not set", async () => {
    const p = start({ ...environmentOf("redis", env), AUTH_REDIS_PASSWORD: "" });
    expect(await p.exited).not.toBe(0);
    expect(await new Response(p.stderr).text()).toContain("AUTH_REDIS_PASSWORD is not set");
  });
});

describe("deploy/nats", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfa-nats-users-"));
  // Picked when the server starts (startOnFreePort), not when the file loads.
  let port = 0;
  let proc: Subprocess;
  const buses: Bus[] = [];
  const natsUrl = (app: string) => retarget(environmentOf(app, env).NATS_URL as string, port);
  const busOf = async (app: string) => {
    const bus = await createJetStreamBus({ url: natsUrl(app), prefix: "cfa", log: quiet, name: app });
    buses.push(bus);
    return bus;
  };
  const event = (type: string): EventEnvelope =>
    ({
      id: Bun.randomUUIDv7(),
      type,
      occurredAt: new Date().toISOString(),
      aggregateId: "a",
      data: {},
    }) as EventEnvelope;
  const start = (extraEnv: Record<string, string | undefined>) =>
    Bun.spawn(
      [
        "/usr/sbin/nats-server",
        "-c",
        join(DEPLOY, "nats", "nats.conf"),
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-js",
        "-sd",
        join(dir, "js"),
      ],
      { env: { PATH: process.env.PATH, ...extraEnv }, stdout: "pipe", stderr: "pipe" },
    );

  beforeAll(async () => {
    ({ proc, port } = await startOnFreePort((picked) => {
      port = picked;
      return start(environmentOf("nats", env));
    }));
  }, 20_000);
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close().catch(() => {})));
    proc?.kill("SIGKILL");
    await proc?.exited;
    rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  test("every service connects with compose's NATS_URL and provisions the stream", async () => {
    for (const app of APPS) await busOf(app);
    expect(buses).toHaveLength(APPS.length);
  });

  test("a service's events reach the services that consume them (durable and broadcast)", async () => {
    const pledge = await busOf("pledge");
    const payment = await busOf("payment");
    const campaign = await busOf("campaign");
    const gateway = await busOf("gateway");
    const got: string[] = [];
    await payment.subscribe({
      durable: "deploy-test-payment",
      types: ["pledge.created"],
      handler: async (e) => void got.push(`payment:${e.type}`),
    });
    await gateway.subscribe({ types: ["campaign.*"], handler: async (e) => void got.push(`gateway:${e.type}`) });
    await pledge.publish(event("pledge.created"));
    await campaign.publish(event("campaign.totals_changed"));
    await waitFor(() => got.includes("payment:pledge.created") && got.includes("gateway:campaign.totals_changed"), {
      what: "both deliveries",
    });
  });

  test("a service cannot publish another service's events, nor delete the stream", async () => {
    const pledge = await busOf("pledge");
    const gateway = await busOf("gateway");
    const forged = await pledge.publish(event("payment.captured")).then(
      () => "published",
      (e: Error) => String(e),
    );
    expect(forged).toMatch(/permission/i);
    const fromGateway = await gateway.publish(event("pledge.captured")).then(
      () => "published",
      (e: Error) => String(e),
    );
    expect(fromGateway).toMatch(/permission/i);
    const deleted = await deleteStream(natsUrl("pledge"), "cfa").then(
      (r) => String(r),
      (e: Error) => String(e),
    );
    expect(deleted).toMatch(/permission/i);
    // The stream is still there: the services' own publishing goes on.
    expect((await pledge.publish(event("pledge.created"))).duplicate).toBe(false);
  }, 30_000);

  test("the live fan-out: notification and chat publish only their own topics, only gateways listen", async () => {
    const fanouts: Fanout[] = [];
    const fanoutOf = async (app: string) => {
      const f = await createNatsFanout({ url: natsUrl(app), prefix: "cfa", log: quiet, name: app });
      fanouts.push(f);
      return f;
    };
    try {
      const [gateway, pledge, notification, chat] = await Promise.all(
        ["gateway", "pledge", "notification", "chat"].map(fanoutOf),
      );
      const heard: string[] = [];
      const overheard: string[] = [];
      for (const topic of ["campaign.c", "user.u", "pledge.p", "admins", "chat.campaign:c"]) {
        gateway?.subscribe(topic, (json) => heard.push(`${topic}:${json}`));
        pledge?.subscribe(topic, (json) => overheard.push(`${topic}:${json}`));
      }
      await Promise.all([gateway?.flush(), pledge?.flush()]);
      for (const topic of ["campaign.c", "user.u", "pledge.p", "admins", "chat.campaign:c"]) {
        notification?.publish(topic, JSON.stringify(`notification→${topic}`));
        chat?.publish(topic, JSON.stringify(`chat→${topic}`));
      }
      pledge?.publish("user.u", JSON.stringify("pledge→user.u"));
      const allowed = [
        'campaign.c:"notification→campaign.c"',
        'user.u:"notification→user.u"',
        'pledge.p:"notification→pledge.p"',
        'admins:"notification→admins"',
        'chat.campaign:c:"chat→chat.campaign:c"',
      ];
      await waitFor(() => allowed.every((a) => heard.includes(a)), { what: "the allowed pushes at the gateway" });
      await Bun.sleep(200);
      expect(heard.sort()).toEqual([...allowed].sort());
      expect(overheard).toEqual([]);
    } finally {
      await Promise.all(fanouts.map((f) => f.close().catch(() => {})));
    }
  });

  test("no credentials, or a wrong password, is refused", async () => {
    const none = await createJetStreamBus({ url: `nats://127.0.0.1:${port}`, prefix: "cfa", log: quiet }).catch(
      (e: Error) => e,
    );
    expect(String(none)).toMatch(/authoriz/i);
    const wrong = await createJetStreamBus({
      url: `nats://pledge:wrong@127.0.0.1:${port}`,
      prefix: "cfa",
      log: quiet,
    }).catch((e: Error) => e);
    expect(String(wrong)).toMatch(/authoriz/i);
  });

  test("the server refuses to start, naming it, when a password variable is missing", async () => {
    const { GATEWAY_NATS_PASSWORD: _, ...rest } = environmentOf("nats", env);
    const p = start(rest);
    expect(await p.exited).not.toBe(0);
    expect(await new Response(p.stderr).text()).toContain("GATEWAY_NATS_PASSWORD");
  });
});

// Keep the generated file format honest for compose: a PEM written by renderEnvFile reads back intact.
test("renderEnvFile round-trips PEMs and JSON through compose's .env quoting", async () => {
  const generated = await generateDeployEnv();
  const file = join(mkdtempSync(join(tmpdir(), "cfa-env-")), ".env");
  writeFileSync(file, renderEnvFile(generated));
  expect(parseEnvFile(readFileSync(file, "utf8"))).toEqual(
    Object.fromEntries(Object.entries(generated).map(([k, v]) => [k, v.includes("\n") ? v.trim() : v])),
  );
});

// nats-server reads a `$VAR` password as a config value: one starting with a digit parses as a
// number and the server refuses to start (it did, at random, in CI). Every generated password
// starts with a letter.
test("generated passwords start with a letter, so nats-server reads each as a string", async () => {
  for (let round = 0; round < 20; round++) {
    const generated = await generateDeployEnv();
    for (const [key, value] of Object.entries(generated))
      if (key.endsWith("_PASSWORD"))
        expect({ key, value: /^[a-z][0-9a-f]{64}$/.test(value) }).toEqual({ key, value: true });
  }
});
