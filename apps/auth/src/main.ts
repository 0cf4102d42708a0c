// The auth process: the shared boot (config, PostgreSQL, JetStream, relay, Redis, metrics, listen,
// ordered stop) around auth's own parts — signing keys, the admin account, the bank-account
// consumer and the resync of ended sessions into Redis.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { createSessionDenylist } from "@careforall/http";
import { createPollingLoop } from "@careforall/worker";
import { createAuthApp, ensureAdmin } from "./app";
import { AuthConfigSchema } from "./config";
import * as schema from "./db/schema";
import { loadSigningKeys } from "./keys";
import { createEndedSessions } from "./sessions";
import { startBankAccountConsumer } from "./workers/bank-accounts";

export const authService = defineService({
  name: "auth",
  config: AuthConfigSchema,
  async start({
    config,
    log,
    clock,
    bus,
    metrics,
    identity,
    checks,
    database,
    pruneInbox,
    relay,
    cache,
    consume,
    onStop,
  }) {
    const keys = await loadSigningKeys({ privateKeyPem: config.JWT_PRIVATE_KEY, publicKeyPem: config.JWT_PUBLIC_KEY });
    const db = await database({ schema, migrationsFolder: join(import.meta.dir, "db/migrations") });
    pruneInbox({ db: db.db, table: schema.inbox });
    const outboxRelay = relay({ db: db.db, table: schema.outbox });
    consume(await startBankAccountConsumer(bus, db.db));

    // Ended sessions go to Redis, where every verifier reads them. Auth starts without Redis (logins
    // must not depend on it): the resync loop writes what it missed once Redis is back.
    const denylist = createSessionDenylist((await cache()).cache);
    const deps = { db, clock, config, log, denylist, onCommitted: () => outboxRelay.kick() };
    await ensureAdmin(deps, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD, name: config.ADMIN_NAME });

    const endedSessions = createEndedSessions({
      db: db.db,
      clock,
      log,
      denylist,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    });
    let denylistDown = false;
    const resync = createPollingLoop({
      name: "auth.session_denylist_resync",
      log,
      intervalMs: config.SESSION_DENYLIST_RESYNC_SECONDS * 1000,
      async tick() {
        // An outage is logged when it starts and when it ends, not every interval.
        try {
          const written = await endedSessions.resync();
          if (denylistDown) log.info({ written }, "session_denylist.resynced");
          denylistDown = false;
        } catch (err) {
          if (!denylistDown) log.warn({ err }, "session_denylist.unavailable");
          denylistDown = true;
        }
        return false;
      },
    });
    resync.start();
    onStop("session-denylist-resync", () => resync.stop());

    return createAuthApp({ ...deps, keys, metrics, identity, checks });
  },
});

if (import.meta.main) await runService(authService);
