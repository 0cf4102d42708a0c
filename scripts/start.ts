// `./cfa start`: every service as its own process on the local PostgreSQL, Redis and NATS,
// migrations applied by each service at start, demo data seeded through the gateway.
import { join } from "node:path";
import { ensureDatabase } from "@careforall/db";
import { wantsPrettyLogs } from "@careforall/log";
import { banner } from "./banner";
import { ensureDevKeys, ensureDevServiceKeys } from "./dev-keys";
import { seed } from "./seed";
import { DEFAULT_PORTS, ROOT, startStack } from "./stack";
import { ensureWebBuild } from "./web";

const env = process.env;
const databaseUrl = env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/careforall";
const admin = {
  email: env.ADMIN_EMAIL ?? "admin@careforall.local",
  password: env.ADMIN_PASSWORD ?? "admin-dev-password",
};
const keys = {
  ...(env.JWT_PRIVATE_KEY && env.JWT_PUBLIC_KEY
    ? { privateKeyPem: env.JWT_PRIVATE_KEY, publicKeyPem: env.JWT_PUBLIC_KEY }
    : await ensureDevKeys(join(ROOT, ".data", "keys"))),
  services: await ensureDevServiceKeys(join(ROOT, ".data", "keys")),
};

await ensureWebBuild((line) => console.log(`[cfa] ${line}`));
await ensureDatabase(databaseUrl);
const gatewayPort = Number(env.PORT ?? DEFAULT_PORTS.gateway);
// For a person at a terminal, one readable line per log record; JSON otherwise (LOG_FORMAT=json forces it).
const pretty = wantsPrettyLogs(env, process.stdout.isTTY);
const stack = await startStack({
  databaseUrl,
  redisUrl: env.REDIS_URL ?? "redis://127.0.0.1:6379",
  redisPrefix: env.REDIS_PREFIX ?? "cfa:",
  natsUrl: env.NATS_URL ?? "nats://127.0.0.1:4222",
  busPrefix: env.BUS_PREFIX ?? "cfa",
  keys,
  ports: { gateway: gatewayPort },
  env: { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, LOG_LEVEL: env.LOG_LEVEL ?? "info" },
  logs: pretty ? "pretty" : "inherit",
  readyTimeoutMs: 60_000,
});

await seed({ gatewayUrl: stack.urls.gateway, admin });
console.log(
  `\n${banner({
    profile: "servers",
    reason: env.CFA_PROFILE_REASON ?? "started directly",
    runsOn: `every service its own process (${Object.entries(stack.urls)
      .filter(([n]) => n !== "gateway")
      .map(([n, u]) => `${n} :${new URL(u).port}`)
      .join(", ")}) on PostgreSQL, Redis, NATS`,
    gatewayUrl: stack.urls.gateway,
    admin,
    logs: pretty ? "pretty" : "json",
  })}\n`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(0);
  });
}
// A service that dies takes the platform down loudly instead of half-working.
for (const svc of stack.services.values()) {
  svc.proc.exited.then((code) => {
    if (!stopping) {
      console.error(`${svc.name} exited with code ${code}; stopping`);
      void stack.stop().then(() => process.exit(1));
    }
  });
}
