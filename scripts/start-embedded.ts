// `./cfa start` in the embedded profile (chosen by ./cfa when PostgreSQL, Redis and NATS are
// neither running nor startable, or with --embedded): every service in this one process on PGlite
// under .data/embedded, the in-memory bus and cache — nothing to install but Bun. Demo data is
// seeded through the gateway as in the servers profile.
import { join } from "node:path";
import { guardProcess } from "@careforall/http";
import { createLogger, prettyStream, wantsPrettyLogs } from "@careforall/log";
import { banner } from "./banner";
import { startEmbeddedPlatform } from "./embedded-platform";
import { seed } from "./seed";
import { DEFAULT_PORTS, ROOT } from "./stack";
import { ensureWebBuild } from "./web";

const env = process.env;
const admin = {
  email: env.ADMIN_EMAIL ?? "admin@careforall.local",
  password: env.ADMIN_PASSWORD ?? "admin-dev-password",
};
const dataDir = env.CFA_DATA_DIR ?? join(ROOT, ".data", "embedded");
// For a person at a terminal, one readable line per log record, a colour per service; JSON otherwise.
const pretty = wantsPrettyLogs(env, process.stdout.isTTY);
const colour = Boolean(process.stdout.isTTY);
const createLog = (service: string, level: string) =>
  createLogger({
    service,
    level,
    ...(pretty ? { destination: prettyStream(service, (text) => process.stdout.write(text), { colour }) } : {}),
  });
const log = createLog("platform", env.LOG_LEVEL ?? "info");
guardProcess(log);

await ensureWebBuild((line) => log.info(line));
const platform = await startEmbeddedPlatform({
  dataDir,
  gatewayPort: Number(env.PORT ?? DEFAULT_PORTS.gateway),
  env: { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, LOG_LEVEL: env.LOG_LEVEL ?? "info" },
  createLog,
});

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await platform.stop(signal);
    process.exit(0);
  });
}

try {
  await seed({ gatewayUrl: platform.gatewayUrl, admin });
} catch (err) {
  // Stopped while seeding (Ctrl-C at once): the stop under way ends the process.
  if (!stopping) throw err;
}
if (!stopping)
  console.log(
    `\n${banner({
      profile: "embedded",
      reason: env.CFA_PROFILE_REASON ?? "started directly",
      runsOn: `every service in this one process; PGlite data in ${dataDir}, in-memory bus and cache`,
      gatewayUrl: platform.gatewayUrl,
      admin,
      logs: pretty ? "pretty" : "json",
    })}\n`,
  );
