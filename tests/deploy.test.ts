// compose.yaml, deploy/ and the images without a Docker engine: compose.yaml is a valid Compose
// file (the Compose Specification's schema) in which every app under apps/ has a service built from
// deploy/docker/Dockerfile with a health check, a restart policy and every setting its
// configuration requires; pledge, payment and gateway run replicated behind the load balancer,
// the one-shot migrator runs before the services, only the load balancer (and the observability
// UIs, on localhost) publish a port, every secret comes from .env with no default, and everything
// it mounts exists; the Dockerfile passes dockerfile-utils' linter and the rules below;
// `./cfa deploy-env` writes a .env that resolves it and that every service's production
// configuration accepts, and .env.example documents every variable; and the servers' set-up files
// are run for real — PostgreSQL's init script on a private server with password logins (then the
// migrator, with compose's URLs), Redis's ACL and NATS's users on private servers — with the URLs
// compose gives each service, so a mismatch between compose.yaml and deploy/ fails here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type Bus,
  createJetStreamBus,
  createNatsFanout,
  deleteStream,
  type EventEnvelope,
  type Fanout,
} from "@careforall/bus";
import { createRedisCache, createRedisClient, createRedisRateLimiter } from "@careforall/cache";
import { parseConfig, secretKeys } from "@careforall/config";
import { migrate } from "@careforall/db";
import { freePort, identityFromConfig, SERVICES, type ServiceName } from "@careforall/http";
import { createLogger } from "@careforall/log";
import { type PostgresStore, runCommand, startPostgresServer, waitFor } from "@careforall/testkit";
import type { TObject } from "@sinclair/typebox";
import Ajv from "ajv";
import type { Subprocess } from "bun";
import { validate as lintDockerfile, ValidationSeverity } from "dockerfile-utils";
import type Redis from "ioredis";
import { importPKCS8, importSPKI } from "jose";
import postgres from "postgres";
import { parse as parseYaml } from "yaml";
import { benchSettings, benchUrl } from "../deploy/docker/bench";
import { healthUrl } from "../deploy/docker/healthcheck";
import { migrateAll, servicesWithMigrations, urlVariable } from "../deploy/docker/migrate";
import { generateDeployEnv, renderEnvFile } from "../scripts/deploy-env";

const ROOT = join(import.meta.dir, "..");
const DEPLOY = join(ROOT, "deploy");
/** Every app with a process of its own: apps/<app>/src/main.ts (apps/web is served by the gateway). */
const APPS = readdirSync(join(ROOT, "apps"))
  .filter((app) => existsSync(join(ROOT, "apps", app, "src", "main.ts")))
  .sort();
/** The apps with a schema of their own in PostgreSQL (they have migrations). */
const DB_APPS = servicesWithMigrations(join(ROOT, "apps"));
const SERVERS = ["postgres", "redis", "nats"] as const;
/** Variables compose may default: none of them is a secret. */
const NOT_SECRETS = new Set([
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "ADMIN_EMAIL",
  "DEMO_BANK",
  "CFA_VERSION",
  "CFA_HTTP_PORT",
  "CFA_EDGE_SUBNET",
  "CFA_LB_ADDRESS",
  "DEPLOYMENT_ENVIRONMENT",
  "ES_JAVA_OPTS",
  "BENCH_DURATION",
  "BENCH_CONNECTIONS",
  "BENCH_THREADS",
]);
/** What the observability profile must run (issue 12), by image. */
const OBSERVABILITY_IMAGES = {
  collector: /^otel\/opentelemetry-collector-contrib:\d/,
  jaeger: /^jaegertracing\/all-in-one:\d/,
  prometheus: /^prom\/prometheus:v\d/,
  grafana: /^grafana\/grafana:\d/,
  elasticsearch: /^docker\.elastic\.co\/elasticsearch\/elasticsearch:8\./,
  kibana: /^docker\.elastic\.co\/kibana\/kibana:8\./,
  shipper: /^fluent\/fluent-bit:\d/,
} as const;
const quiet = createLogger({ service: "deploy-test", level: "silent" });

// ── compose.yaml as Compose reads it ─────────────────────────────────────────────────────────────

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  ports?: unknown[];
  expose?: unknown[];
  network_mode?: string;
  environment?: Record<string, string | number | null>;
  command?: string[];
  restart?: string;
  profiles?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  volumes?: (string | { type?: string; source?: string })[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean; ipam?: { config?: { subnet?: string }[] } } | null>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(join(ROOT, "compose.yaml"), "utf8");
/** With YAML merge keys resolved (`<<: *service`), as Compose does. */
const compose = parseYaml(composeText, { merge: true }) as ComposeFile;
const serviceOf = (name: string): ComposeService => {
  const s = compose.services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
};

const networksOf = (s: ComposeService): string[] =>
  (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? { default: null })).sort();

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

/** A fresh .env as ./cfa deploy-env writes it (`generatedEnv` where a test has an `env` of its own). */
let env: Record<string, string>;
let generatedEnv: Record<string, string>;
beforeAll(async () => {
  env = await generateDeployEnv();
  generatedEnv = env;
});

/** Every service definition (`defineService` in apps/<app>/src/main.ts), loaded without starting it. */
async function serviceDefinition(app: string): Promise<{ name: string; config: TObject; trustsOthers?: boolean }> {
  const mod = (await import(join(ROOT, "apps", app, "src", "main.ts"))) as Record<string, unknown>;
  const found = Object.values(mod).filter(
    (v): v is { name: string; config: TObject; trustsOthers?: boolean } =>
      typeof v === "object" && v !== null && (v as { name?: unknown }).name === app && "config" in v,
  );
  if (found.length !== 1) throw new Error(`apps/${app}/src/main.ts must export one defineService({ name: "${app}" })`);
  return found[0] as { name: string; config: TObject; trustsOthers?: boolean };
}

/**
 * What a service's environment must set, read from its configuration schema: every property the
 * schema requires and does not default, every secret (production refuses their development
 * defaults), its service key (boot refuses to start without it; the trusted keys too unless the
 * service trusts nobody), and every setting whose default points at this machine (127.0.0.1: a
 * server or another service, which in a container is somewhere else).
 */
function requiredSettings(definition: { config: TObject; trustsOthers?: boolean }): string[] {
  const schema = definition.config;
  const required = new Set<string>();
  for (const [key, field] of Object.entries(schema.properties) as [string, { default?: unknown }][]) {
    const isRequired = (schema.required ?? []).includes(key);
    if (isRequired && field.default === undefined) required.add(key);
    if (typeof field.default === "string" && field.default.includes("127.0.0.1")) required.add(key);
  }
  for (const key of secretKeys(schema)) required.add(key);
  if ("SERVICE_PRIVATE_KEY" in schema.properties) required.add("SERVICE_PRIVATE_KEY");
  if ("SERVICE_TRUSTED_KEYS" in schema.properties && definition.trustsOthers !== false)
    required.add("SERVICE_TRUSTED_KEYS");
  return [...required].sort();
}

/** `./x:/y:ro` → `./x`; named volumes and absolute host paths are not the repository's. */
function repositoryMounts(s: ComposeService): string[] {
  return (s.volumes ?? [])
    .map((v) => (typeof v === "string" ? (v.split(":")[0] as string) : (v.source ?? "")))
    .filter((source) => source.startsWith("./"));
}

const publishedPorts = (s: ComposeService): string[] => (s.ports ?? []).map(String);

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

  test("every app has a service built from deploy/docker/Dockerfile, with a health check and a restart policy", () => {
    expect(APPS).toContain("gateway");
    expect(APPS).not.toContain("web");
    for (const app of APPS) {
      const s = serviceOf(app);
      expect([app, s.build]).toEqual([
        app,
        { context: ".", dockerfile: "deploy/docker/Dockerfile", args: { APP: app } },
      ]);
      expect([app, s.image]).toEqual([app, `careforall/${app}:\${CFA_VERSION:-dev}`]);
      expect([app, s.restart]).toEqual([app, "unless-stopped"]);
      // The image's own health check, run by Compose (depends_on: service_healthy waits for it).
      expect([app, s.healthcheck?.disable ?? false, s.healthcheck?.test]).toEqual([
        app,
        false,
        ["CMD", "bun", "deploy/docker/healthcheck.ts"],
      ]);
      // Its port is the one the health check asks.
      const env = environmentOf(app, generatedEnv);
      expect([app, new URL(healthUrl({ ...env, APP: app })).port]).toEqual([app, String(env.PORT)]);
    }
    // The servers and the load balancer have health checks of their own.
    for (const name of [...SERVERS, "lb"]) {
      expect([name, serviceOf(name).healthcheck?.test?.length ?? 0]).not.toEqual([name, 0]);
      expect([name, serviceOf(name).restart]).toEqual([name, "unless-stopped"]);
    }
  });

  test("every setting each app's configuration requires is set by its service, and its production config accepts them", async () => {
    for (const app of APPS) {
      const definition = await serviceDefinition(app);
      const required = requiredSettings(definition);
      expect(required.length).toBeGreaterThan(0);
      const env = environmentOf(app, generatedEnv);
      const missing = required.filter((key) => env[key] === undefined || env[key] === "");
      expect([app, missing]).toEqual([app, []]);
      // parseConfig with NODE_ENV=production refuses development or missing secrets (throws ConfigError).
      const config = parseConfig(app, definition.config, env) as Record<string, unknown>;
      expect([app, config.NODE_ENV]).toEqual([app, "production"]);
    }
    // The rule above can fail: the payment service without its webhook secret, the archiver
    // without Elasticsearch, pledge without its bank.
    const payment = await serviceDefinition("payment");
    expect(requiredSettings(payment)).toContain("WEBHOOK_SECRET");
    expect(requiredSettings(await serviceDefinition("pledge"))).toContain("BANK_URL");
    expect(requiredSettings(await serviceDefinition("gateway"))).toContain("PLEDGE_URL");
  });

  test("pledge, payment and gateway run at least two replicas; bank stays one (its fault knobs live in memory)", () => {
    for (const app of ["pledge", "payment", "gateway"])
      expect([app, serviceOf(app).deploy?.replicas ?? 1]).toEqual([app, expect.any(Number)]);
    for (const app of ["pledge", "payment", "gateway"])
      expect([app, (serviceOf(app).deploy?.replicas ?? 1) >= 2]).toEqual([app, true]);
    expect(serviceOf("bank").deploy?.replicas ?? 1).toBe(1);
    // A replicated service publishes no host port (two replicas could not bind the same one).
    for (const [name, s] of Object.entries(compose.services))
      if ((s.deploy?.replicas ?? 1) > 1) expect([name, publishedPorts(s)]).toEqual([name, []]);
  });

  test("the load balancer: nginx over every gateway replica at the gateway's port, WebSocket upgrade on /api/ws, the one public port", () => {
    const lb = serviceOf("lb");
    expect(lb.image).toMatch(/^nginx:1\.(2[7-9]|[3-9]\d)/); // `resolve` on an upstream server: 1.27.3+
    expect(lb.volumes).toContain("./deploy/lb/nginx.conf:/etc/nginx/nginx.conf:ro");
    const conf = readFileSync(join(DEPLOY, "lb", "nginx.conf"), "utf8").replace(/#[^\n]*/g, "");
    const gatewayPort = environmentOf("gateway", generatedEnv).PORT;
    // The upstream names the compose service of the gateway (Docker's DNS: one A record per replica).
    const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(conf);
    expect(upstream?.[2]).toMatch(new RegExp(`server\\s+gateway:${gatewayPort}\\s+resolve\\b`));
    expect(conf).toMatch(/resolver\s+127\.0\.0\.11\b/);
    const upstreamName = upstream?.[1] as string;
    for (const location of ["/api/ws", "/"]) {
      const block = new RegExp(`location\\s+${location.replaceAll("/", "\\/")}\\s*\\{([^}]*)\\}`).exec(conf)?.[1];
      expect([location, block]).toEqual([location, expect.stringContaining(`proxy_pass http://${upstreamName};`)]);
      expect(block).toContain("X-Forwarded-For $proxy_add_x_forwarded_for");
    }
    const ws = /location\s+\/api\/ws\s*\{([^}]*)\}/.exec(conf)?.[1] ?? "";
    expect(ws).toContain("proxy_http_version 1.1");
    expect(ws).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade/);
    expect(ws).toMatch(/proxy_set_header\s+Connection\s+\$connection_upgrade/);
    // The published port reaches the port nginx listens on; its health check asks that port too.
    const listen = /listen\s+(\d+);/.exec(conf)?.[1];
    expect(publishedPorts(lb)).toEqual([`\${CFA_HTTP_PORT:-3000}:${listen}`]);
    expect(JSON.stringify(lb.healthcheck?.test)).toContain(`127.0.0.1:${listen}/lb/health`);
    expect(conf).toMatch(/location\s+=\s+\/lb\/health/);
    expect(lb.depends_on?.gateway?.condition).toBe("service_healthy");
    // The gateways believe X-Forwarded-For from the load balancer's fixed address only, inside `edge`.
    const lbAddress = interpolate(
      String((lb.networks as Record<string, { ipv4_address?: string }>).edge?.ipv4_address),
      generatedEnv,
    );
    expect(environmentOf("gateway", generatedEnv).TRUSTED_PROXIES).toBe(lbAddress);
    const subnet = interpolate(String(compose.networks?.edge?.ipam?.config?.[0]?.subnet), generatedEnv);
    const [base, bits] = subnet.split("/") as [string, string];
    const toInt = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
    const mask = bits === "0" ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
    expect((toInt(lbAddress) & mask) >>> 0 === (toInt(base) & mask) >>> 0).toBe(true);
  });

  test("who reaches what: only the load balancer and the localhost UIs publish ports; services and servers sit on `internal`", () => {
    const services = compose.services;
    for (const [name, s] of Object.entries(services)) expect([name, s.network_mode]).toEqual([name, undefined]);
    const publishing = Object.entries(services)
      .filter(([, s]) => publishedPorts(s).length > 0)
      .map(([name]) => name)
      .sort();
    expect(publishing).toEqual(["grafana", "jaeger", "kibana", "lb", "prometheus"]);
    for (const name of publishing.filter((n) => n !== "lb"))
      for (const port of publishedPorts(serviceOf(name)))
        expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);

    expect(compose.networks?.internal?.internal).toBe(true);
    expect(compose.networks?.edge?.internal).toBe(true);
    expect(compose.networks?.public?.internal ?? false).toBe(false);
    expect(networksOf(serviceOf("gateway"))).toEqual(["edge", "internal"]);
    expect(networksOf(serviceOf("lb"))).toEqual(["edge", "public"]);
    for (const name of [
      ...APPS.filter((a) => a !== "gateway"),
      ...SERVERS,
      "migrate",
      "elasticsearch",
      "otel-collector",
    ])
      expect([name, networksOf(serviceOf(name))]).toEqual([name, ["internal"]]);
    // Only the gateways and the load balancer are on `edge`.
    const onEdge = Object.entries(services)
      .filter(([, s]) => networksOf(s).includes("edge"))
      .map(([name]) => name)
      .sort();
    expect(onEdge).toEqual(["gateway", "lb"]);
  });

  test("the platform starts without a profile; migrations run once, before every service with a database", () => {
    const core = Object.entries(compose.services)
      .filter(([, s]) => !s.profiles)
      .map(([name]) => name)
      .sort();
    expect(core).toEqual([...APPS.filter((a) => a !== "archiver"), ...SERVERS, "migrate", "lb"].sort());

    const migrator = serviceOf("migrate");
    expect(migrator.build).toEqual({ context: ".", dockerfile: "deploy/docker/Dockerfile", target: "migrate" });
    expect(migrator.restart).toBe("no");
    expect(migrator.depends_on?.postgres?.condition).toBe("service_healthy");
    // It logs in as each service's role, with the very URL that service uses.
    const migratorEnv = migrator.environment ?? {};
    expect(
      Object.keys(migratorEnv)
        .filter((k) => k.endsWith("_DATABASE_URL"))
        .sort(),
    ).toEqual(DB_APPS.map(urlVariable).sort());
    for (const app of DB_APPS) {
      expect([app, migratorEnv[urlVariable(app)]]).toEqual([app, serviceOf(app).environment?.DATABASE_URL]);
      expect([app, serviceOf(app).depends_on?.migrate?.condition]).toEqual([app, "service_completed_successfully"]);
      expect([app, serviceOf(app).depends_on?.postgres?.condition]).toEqual([app, "service_healthy"]);
    }
  });

  test("the observability profile runs the collector, Jaeger, Prometheus, Grafana, Elasticsearch, Kibana, the shipper and the archiver", () => {
    const inProfile = (profile: string) =>
      Object.entries(compose.services).filter(([, s]) => s.profiles?.includes(profile));
    const observability = inProfile("observability");
    for (const [what, image] of Object.entries(OBSERVABILITY_IMAGES))
      expect([what, observability.filter(([, s]) => image.test(s.image ?? "")).length]).toEqual([what, 1]);
    expect(observability.map(([name]) => name)).toContain("archiver");
    // The archiver archives into the Elasticsearch of the profile, at its compose name.
    const es = observability.find(([, s]) => OBSERVABILITY_IMAGES.elasticsearch.test(s.image ?? ""))?.[0];
    expect(environmentOf("archiver", generatedEnv).ELASTICSEARCH_URL).toBe(`http://${es}:9200`);

    // The collector takes OTLP/HTTP on the port the services are told (.env.example) and sends
    // traces on to Jaeger's OTLP port; Jaeger takes OTLP.
    const collector = parseYaml(readFileSync(join(DEPLOY, "otel-collector", "config.yaml"), "utf8")) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint?: string; endpoints?: string[] }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    const httpPort = collector.receivers.otlp.protocols.http.endpoint.split(":").pop();
    const example = readFileSync(join(ROOT, ".env.example"), "utf8");
    expect(example).toContain(`OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:${httpPort}`);
    expect(serviceOf("otel-collector").profiles).toEqual(["observability"]);
    const traces = collector.service.pipelines.traces;
    expect(traces.receivers).toEqual(["otlp"]);
    const jaegerExporter = traces.exporters.find((e) => collector.exporters[e]?.endpoint === "jaeger:4317");
    expect(jaegerExporter).toBeDefined();
    expect(serviceOf("jaeger").environment?.COLLECTOR_OTLP_ENABLED).toBe("true");
    expect(publishedPorts(serviceOf("jaeger"))).toEqual(["127.0.0.1:16686:16686"]);
    for (const exporter of traces.exporters) expect(collector.exporters[exporter]).toBeDefined();
    // Prometheus reads H2's configuration and rules; Grafana its provisioning and dashboards.
    expect(serviceOf("prometheus").volumes).toContain("./deploy/prometheus:/etc/prometheus:ro");
    // Prometheus scrapes every app, by its compose name, at the port compose gives it.
    const prometheusConfig = parseYaml(readFileSync(join(DEPLOY, "prometheus", "prometheus.yml"), "utf8")) as {
      scrape_configs: { dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const scraped = new Map(
      prometheusConfig.scrape_configs.flatMap((job) =>
        (job.dns_sd_configs ?? []).flatMap((sd) => sd.names.map((name) => [name, sd.port] as const)),
      ),
    );
    for (const app of APPS)
      expect([app, scraped.get(app)]).toEqual([app, Number(environmentOf(app, generatedEnv).PORT)]);
    // Grafana's data sources are services of this file; its dashboards are where the provider reads.
    const grafanaMounts = (serviceOf("grafana").volumes ?? []).map(String);
    const provisioning = join(DEPLOY, "grafana", "provisioning");
    for (const file of readdirSync(join(provisioning, "datasources"))) {
      const { datasources } = parseYaml(readFileSync(join(provisioning, "datasources", file), "utf8")) as {
        datasources: { name: string; url: string }[];
      };
      for (const ds of datasources) {
        const host = new URL(ds.url).hostname;
        expect([ds.name, host in compose.services]).toEqual([ds.name, true]);
        expect([
          ds.name,
          networksOf(serviceOf(host)).some((n) => networksOf(serviceOf("grafana")).includes(n)),
        ]).toEqual([ds.name, true]);
      }
    }
    for (const file of readdirSync(join(provisioning, "dashboards"))) {
      const { providers } = parseYaml(readFileSync(join(provisioning, "dashboards", file), "utf8")) as {
        providers: { options: { path: string } }[];
      };
      for (const provider of providers)
        expect(grafanaMounts).toContain(`./deploy/grafana/dashboards:${provider.options.path}:ro`);
    }
    expect(repositoryMounts(serviceOf("grafana")).sort()).toEqual([
      "./deploy/grafana/dashboards",
      "./deploy/grafana/provisioning",
    ]);
    // The shipper: its configuration from deploy/fluent-bit, the containers' log files read-only,
    // and what it writes (offsets, the buffer) on a writable volume, not in the read-only mount.
    const shipper = serviceOf("fluent-bit");
    expect(repositoryMounts(shipper)).toEqual(["./deploy/fluent-bit"]);
    const mounts = (shipper.volumes ?? []).map((v) => String(v).split(":"));
    const configFile = (shipper.command ?? []).find((a) => a.startsWith("/fluent-bit/etc/")) as string;
    expect(existsSync(join(DEPLOY, "fluent-bit", configFile.slice("/fluent-bit/etc/".length)))).toBe(true);
    const shipperConfig = parseYaml(readFileSync(join(DEPLOY, "fluent-bit", "fluent-bit.yaml"), "utf8")) as {
      service: Record<string, string>;
      pipeline: { inputs: Record<string, string>[]; outputs: Record<string, string | number>[] };
    };
    const writes = [shipperConfig.service["storage.path"], ...shipperConfig.pipeline.inputs.map((i) => i.db)].filter(
      (p): p is string => typeof p === "string",
    );
    expect(writes.length).toBeGreaterThan(0);
    for (const path of writes) {
      const mount = mounts.find(([, target]) => path.startsWith(`${target}/`));
      expect([path, mount !== undefined && mount[2] !== "ro" && !(mount[0] as string).startsWith(".")]).toEqual([
        path,
        true,
      ]);
    }
    for (const input of shipperConfig.pipeline.inputs.filter((i) => i.name === "tail"))
      expect(mounts.some(([, target]) => input.path?.startsWith(`${target}/`))).toBe(true);
    for (const output of shipperConfig.pipeline.outputs.filter((o) => o.name === "es"))
      expect([output.host, output.port]).toEqual([es, 9200]);

    // The bench profile: the load tool, through the load balancer.
    const bench = inProfile("bench");
    expect(bench.map(([name]) => name)).toEqual(["bench"]);
    expect(serviceOf("bench").build?.target).toBe("bench");
    expect(environmentOf("bench", generatedEnv).TARGET_URL).toBe(
      `http://lb:${/listen\s+(\d+);/.exec(readFileSync(join(DEPLOY, "lb", "nginx.conf"), "utf8"))?.[1]}`,
    );
    expect(networksOf(serviceOf("bench"))).toEqual(["public"]);
  });

  test("everything compose.yaml mounts or builds from is in the repository", () => {
    const sources = Object.entries(compose.services).flatMap(([name, s]) => [
      ...repositoryMounts(s).map((path) => [name, path] as const),
      ...(s.build ? [[name, `./${s.build.dockerfile}`] as const] : []),
    ]);
    expect(sources.length).toBeGreaterThan(8);
    const missing = sources.filter(([, path]) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
    // Named volumes are declared.
    for (const [name, s] of Object.entries(compose.services))
      for (const v of s.volumes ?? []) {
        const source = typeof v === "string" ? (v.split(":")[0] as string) : (v.source ?? "");
        if (!source.startsWith("./") && !source.startsWith("/"))
          expect([name, source, source in (compose.volumes ?? {})]).toEqual([name, source, true]);
      }
    // JetStream keeps its store on a volume.
    expect(serviceOf("nats").volumes).toContain("nats-data:/data");
    expect(serviceOf("nats").command).toEqual(expect.arrayContaining(["-js", "-sd", "/data"]));
  });

  test("every DATABASE_URL, REDIS_URL and NATS_URL logs in as that service, with a password from .env", () => {
    const dbRoles = new Set<string>();
    for (const app of APPS) {
      const raw = serviceOf(app).environment ?? {};
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
    // Every service with a schema has its own role; the gateway has none.
    expect([...dbRoles].sort()).toEqual([...DB_APPS].sort());
    expect(serviceOf("gateway").environment?.DATABASE_URL).toBeUndefined();
    expect(serviceOf("gateway").environment?.REDIS_URL).toBeDefined();
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
      const raw = serviceOf(app).environment ?? {};
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

  test("with the .env of ./cfa deploy-env everything resolves, and the service keys fit together", async () => {
    // Unset, the file refuses to resolve (Compose stops before starting anything).
    expect(() => environmentOf("auth", {})).toThrow(/run \.\/cfa deploy-env/);

    const used = new Set(
      variablesIn(composeText)
        .filter((v) => !NOT_SECRETS.has(v.name))
        .map((v) => v.name),
    );
    const written = new Set(Object.keys(generatedEnv).filter((k) => !NOT_SECRETS.has(k)));
    expect([...written].sort()).toEqual([...used].sort());
    for (const name of Object.keys(compose.services)) environmentOf(name, generatedEnv);

    const identities = new Map<string, Awaited<ReturnType<typeof identityFromConfig>>>();
    for (const app of APPS)
      identities.set(app, await identityFromConfig(app as ServiceName, environmentOf(app, generatedEnv)));
    // The keys fit together: a token the gateway mints for the bank is the gateway's to the bank.
    const gateway = identities.get("gateway");
    const bank = identities.get("bank");
    expect(await bank?.verify(await gateway?.tokenFor("bank"))).toBe("gateway");
    // The demo bank stays closed unless .env says otherwise.
    expect(environmentOf("bank", generatedEnv).DEMO_BANK).toBe("off");
  });

  test(".env.example documents every variable compose.yaml reads, and holds no secret", () => {
    const lines = readFileSync(join(ROOT, ".env.example"), "utf8").split("\n");
    // `NAME=` (a secret ./cfa deploy-env writes, left empty) or `#NAME=default` (an optional setting).
    const secrets = new Map<string, string>();
    const settings = new Map<string, string>();
    for (const line of lines) {
      const m = /^(#?)([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!m) continue;
      (m[1] ? settings : secrets).set(m[2] as string, m[3] as string);
    }
    const interpolated = new Set(variablesIn(composeText).map((v) => v.name));
    const documented = new Set([...secrets.keys(), ...settings.keys()]);
    expect([...interpolated].filter((name) => !documented.has(name)).sort()).toEqual([]);
    expect([...documented].filter((name) => !interpolated.has(name)).sort()).toEqual([]);
    // Every secret is listed uncommented and empty; every optional setting shows compose's default.
    for (const [name, value] of secrets) {
      expect([name, value]).toEqual([name, ""]);
      expect([name, NOT_SECRETS.has(name)]).toEqual([name, false]);
    }
    for (const name of settings.keys()) expect([name, NOT_SECRETS.has(name)]).toEqual([name, true]);
    const defaults = new Map(
      [...composeText.matchAll(/\$\{([A-Z_0-9]+):-([^}]*)\}/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    for (const [name, value] of settings)
      if (defaults.get(name)) expect([name, value]).toEqual([name, String(defaults.get(name))]);
    // What ./cfa deploy-env writes is exactly the secrets listed (plus the settings it fills in).
    expect(
      Object.keys(generatedEnv)
        .filter((k) => !NOT_SECRETS.has(k))
        .sort(),
    ).toEqual([...secrets.keys()].sort());
  });
});

// ── deploy/docker: the images ────────────────────────────────────────────────────────────────────

/** The Dockerfile's instructions, continuation lines joined, comments dropped, by stage. */
function dockerfileStages(text: string): { name: string; from: string; instructions: string[] }[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stages: { name: string; from: string; instructions: string[] }[] = [];
  for (const line of logical) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1] as string, name: from[2] ?? String(stages.length), instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

describe("deploy/docker/Dockerfile", () => {
  const dockerfile = readFileSync(join(DEPLOY, "docker", "Dockerfile"), "utf8");
  const stages = dockerfileStages(dockerfile);
  const stage = (name: string) => {
    const s = stages.find((x) => x.name === name);
    if (!s) throw new Error(`no stage ${name}`);
    return s;
  };
  const strict = {
    deprecatedMaintainer: ValidationSeverity.ERROR,
    directiveCasing: ValidationSeverity.ERROR,
    emptyContinuationLine: ValidationSeverity.ERROR,
    instructionCasing: ValidationSeverity.ERROR,
    instructionCmdMultiple: ValidationSeverity.ERROR,
    instructionEntrypointMultiple: ValidationSeverity.ERROR,
    instructionHealthcheckMultiple: ValidationSeverity.ERROR,
    instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
    instructionWorkdirRelative: ValidationSeverity.ERROR,
  };

  test("passes dockerfile-utils' linter with every rule an error (and the linter does find faults)", () => {
    const findings = lintDockerfile(dockerfile, strict).map(
      (d) => `line ${d.range.start.line + 1}: ${d.message} (${d.code})`,
    );
    expect(findings).toEqual([]);
    const faulty = "from oven/bun:1.4.5\nWORKDIR app\nCMD ['bun']\nHEALTHCHECK --interval=1 CMD true\nCOPY x\n";
    expect(lintDockerfile(faulty, strict).length).toBeGreaterThanOrEqual(4);
  });

  test("one build for every app: APP picks it, Bun 1.4.5 slim, production dependencies only, a non-root user, a HEALTHCHECK", async () => {
    const bunVersion = (
      JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }
    ).devDependencies["@types/bun"];
    expect(dockerfile).toContain(`ARG BUN_VERSION=${bunVersion}`);
    for (const s of stages)
      expect([s.name, s.from]).toEqual([s.name, expect.stringMatching(/^(oven\/bun:\$\{BUN_VERSION\}-slim|runtime)$/)]);
    // The default target (the last stage) is the service: APP required, the app's main, non-root, health-checked.
    const service = stages.at(-1) as (typeof stages)[number];
    expect(service.name).toBe("service");
    expect(service.instructions).toContain("ARG APP");
    expect(service.instructions.some((i) => /^CMD \[.*apps\/\$APP\/src\/main\.ts/.test(i))).toBe(true);
    expect(
      service.instructions.some((i) => /^HEALTHCHECK .*CMD \["bun", "deploy\/docker\/healthcheck\.ts"\]$/.test(i)),
    ).toBe(true);
    for (const target of ["service", "migrate", "bench"]) {
      const users = stage(target).instructions.filter((i) => i.startsWith("USER "));
      expect([target, users]).toEqual([target, ["USER 10001:10001"]]);
    }
    expect(stage("runtime").instructions.some((i) => /useradd .*--uid 10001/.test(i))).toBe(true);
    // Production dependencies only, locked; the runtime's node_modules come from that stage alone.
    expect(stage("deps").instructions).toContain("RUN bun install --frozen-lockfile --production --ignore-scripts");
    const runtimeCopies = stage("runtime").instructions.filter((i) => i.startsWith("COPY"));
    expect(runtimeCopies.filter((i) => i.includes("--from=web"))).toEqual([]);
    expect(runtimeCopies).toContain("COPY --from=deps /app/ ./");
    // Every workspace's manifest reaches the install stages before any source does (layer caching).
    expect(stage("source").instructions.join("\n")).toMatch(/find \. -name package\.json/);
    // The gateway's image carries the web build; the build needs the development dependencies.
    expect(stage("web").instructions).toContain("RUN bun install --frozen-lockfile --ignore-scripts");
    expect(stage("web").instructions.join("\n")).toMatch(/"\$APP" = "gateway".*vite build/);
    expect(service.instructions).toContain("COPY --from=web /web-dist ./apps/web/dist");
    // …exactly where the gateway looks for it by default (compose sets no WEB_DIST_DIR).
    const gateway = await serviceDefinition("gateway");
    const webDist = (gateway.config.properties.WEB_DIST_DIR as { default?: string }).default as string;
    expect(webDist.slice(ROOT.length + 1)).toBe("apps/web/dist");
    expect(environmentOf("gateway", generatedEnv).WEB_DIST_DIR).toBeUndefined();
    // The migrator and the bench are targets of their own.
    expect(stage("migrate").instructions).toContain('CMD ["bun", "deploy/docker/migrate.ts"]');
    expect(stage("bench").instructions).toContain('CMD ["bun", "deploy/docker/bench.ts"]');
  });

  test("what the build copies is in the repository and not left out by .dockerignore", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("!"));
    const copied = [...dockerfile.matchAll(/(?<=\s)\/src\/([\w./-]+)/g)].map((m) =>
      (m[1] as string).replace(/\/$/, ""),
    );
    copied.push("package.json", "bun.lock", "bunfig.toml", "patches", "apps/gateway/package.json");
    expect(copied).toContain("deploy/docker/healthcheck.ts");
    for (const path of new Set(copied)) {
      expect([path, existsSync(join(ROOT, path))]).toEqual([path, true]);
      const hit = ignored.filter((pattern) => {
        const glob = new Bun.Glob(pattern);
        const parts = path.split("/");
        return parts.some((_, i) => glob.match(parts.slice(0, i + 1).join("/")));
      });
      expect([path, hit]).toEqual([path, []]);
    }
    // And what must never reach an image is left out.
    for (const secret of [".env", "node_modules", ".git", "apps/web/dist"])
      expect([secret, ignored.some((p) => new Bun.Glob(p).match(secret))]).toEqual([secret, true]);
  });

  test("what the images run imports production dependencies only (the image has nothing else installed)", () => {
    const rootManifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    // Every module reachable from the services' mains and the image's own scripts (type-only
    // imports are erased, as Bun erases them when it runs the file).
    const roots = [
      ...APPS.map((app) => join(ROOT, "apps", app, "src", "main.ts")),
      ...["healthcheck.ts", "migrate.ts", "bench.ts"].map((f) => join(DEPLOY, "docker", f)),
    ];
    const packages = new Map<string, string>();
    const seen = new Set<string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const loader = file.endsWith(".tsx") ? "tsx" : file.endsWith(".ts") ? "ts" : "js";
      for (const { path: spec } of new Bun.Transpiler({ loader }).scanImports(readFileSync(file, "utf8"))) {
        if (/^(node|bun):/.test(spec) || spec === "bun" || builtinModules.includes(spec)) continue;
        const resolved = Bun.resolveSync(spec, dirname(file));
        if (resolved.startsWith(ROOT) && !resolved.includes("/node_modules/")) {
          if (/\.(ts|tsx|js|mjs)$/.test(resolved)) queue.push(resolved);
          continue;
        }
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] as string);
        if (!packages.has(name)) packages.set(name, file.slice(ROOT.length + 1));
      }
    }
    expect(seen.size).toBeGreaterThan(100);
    for (const used of ["elysia", "postgres", "@nats-io/jetstream", "@elastic/elasticsearch"])
      expect(packages.has(used)).toBe(true);
    const notInstalled = [...packages].filter(([name]) => !(name in rootManifest.dependencies));
    expect(notInstalled).toEqual([]);
    // The rule can fail: a development dependency is not installed in the image.
    expect("yaml" in rootManifest.dependencies).toBe(false);
    expect("yaml" in rootManifest.devDependencies).toBe(true);
  });

  test("the bench target loads the first open campaign through TARGET_URL, else the list", async () => {
    let items: { id: string }[] = [{ id: "c1" }];
    const seen: string[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        const url = new URL(req.url);
        seen.push(`${url.pathname}${url.search}`);
        return Response.json({ items, nextCursor: null });
      },
    });
    try {
      const target = `http://127.0.0.1:${server.port}`;
      expect(await benchUrl(target)).toBe(`${target}/api/campaigns/c1`);
      items = [];
      expect(await benchUrl(target)).toBe(`${target}/api/campaigns`);
      expect(seen[0]).toBe("/api/campaigns?status=open&limit=1");
    } finally {
      server.stop(true);
    }
    expect(benchSettings({ TARGET_URL: "http://lb:8080/" })).toEqual({
      target: "http://lb:8080",
      durationSec: 30,
      connections: 64,
      threads: 2,
    });
    expect(() => benchSettings({ BENCH_DURATION: "0" })).toThrow("BENCH_DURATION");
    expect(environmentOf("bench", generatedEnv).BENCH_DURATION).toBe("30");
  });

  test("the health check: 0 for a 200 on /health at PORT, 1 for an error answer or nothing listening", async () => {
    const statuses = [200, 503];
    const servers = statuses.map((status) =>
      Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (req) => new Response("{}", { status: new URL(req.url).pathname === "/health" ? status : 404 }),
      }),
    );
    try {
      const run = (port: number | string) =>
        runCommand(["bun", join(DEPLOY, "docker", "healthcheck.ts")], {
          env: { PATH: process.env.PATH, PORT: String(port) },
        });
      expect((await run(servers[0]?.port as number)).code).toBe(0);
      expect((await run(servers[1]?.port as number)).code).toBe(1);
      const free = freePort();
      expect((await run(free)).code).toBe(1);
    } finally {
      for (const s of servers) s.stop(true);
    }
    // Without PORT, the app's own default port (each config's PORT default).
    for (const app of APPS) {
      const { config } = await serviceDefinition(app);
      const port = (config.properties.PORT as { default?: number } | undefined)?.default;
      expect([app, healthUrl({ APP: app })]).toEqual([app, `http://127.0.0.1:${port}/health`]);
    }
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
  const urls: Record<string, string> = {};
  const urlOf = (app: string): string => {
    const url = urls[app];
    if (url === undefined) throw new Error(`no URL for ${app}`);
    return url;
  };
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

  test("the one-shot migrator, with compose's URLs, applies every service's migrations as that service's role", async () => {
    const migratorEnv = Object.fromEntries(
      Object.entries(environmentOf("migrate", env)).map(([k, v]) => [
        k,
        k.endsWith("_DATABASE_URL") ? retarget(v, server.port) : v,
      ]),
    );
    // Without a URL it names what is missing and applies nothing.
    const { AUTH_DATABASE_URL: _, ...withoutAuth } = migratorEnv;
    await expect(migrateAll({ env: withoutAuth, log: quiet })).rejects.toThrow("not set: AUTH_DATABASE_URL");
    expect(await migrateAll({ env: migratorEnv, log: quiet })).toEqual([...DB_APPS]);
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
    // Then every service starts and migrates again (boot does; a restart, a second replica):
    // nothing to apply, nothing refused.
    await migrate({
      url: urlOf("campaign"),
      migrationsFolder: join(ROOT, "apps/campaign/src/db/migrations"),
      schema: "campaign",
    });
    expect(await migrateAll({ env: migratorEnv, log: quiet })).toEqual([...DB_APPS]);
  });

  test("a role reaches only its own schema: no other service's tables, no new schema, no public, no other database", async () => {
    for (const app of DB_APPS) {
      const sql = postgres(urlOf(app), { max: 1, onnotice: () => {} });
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
      const maintenance = postgres(urlOf(app).replace(/\/careforall$/, "/postgres"), { max: 1, onnotice: () => {} });
      expect([app, await code(maintenance`select 1`)]).toEqual([app, "42501"]);
      await maintenance.end({ timeout: 5 });
    }
  });

  test("a wrong password, or a service's role with another's password, is refused", async () => {
    const wrong = new URL(urlOf("pledge"));
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
