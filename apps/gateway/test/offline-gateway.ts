// The gateway app with nothing behind it: its routes, schemas and documents are all there, and any
// call to a service fails as unreachable. For tests of what the gateway itself declares.
import { createMemoryFanout } from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { systemClock } from "@careforall/config";
import { createHttpMetrics, freePort } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { createTestKeys } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { createGatewayApp, createSnapshotStore, type GatewayClients } from "../src/app";

export async function offlineGateway() {
  const keys = await createTestKeys();
  const nowhere = `127.0.0.1:${freePort()}`;
  const log = silentLogger("gateway-offline");
  const metrics = createHttpMetrics("gateway");
  const clients = {
    auth: treaty(nowhere),
    campaign: treaty(nowhere),
    pledge: treaty(nowhere),
    payment: treaty(nowhere),
    bank: treaty(nowhere),
    chat: treaty(nowhere),
    notification: treaty(nowhere),
  } as unknown as GatewayClients;
  return createGatewayApp({
    clients,
    snapshots: createSnapshotStore({
      cache: createMemoryCache(),
      origin: { fetch: async () => null },
      clock: systemClock,
      log,
      metrics,
      localTtlMs: 1_000,
      redisTtlSeconds: 60,
    }),
    limiter: createMemoryRateLimiter(),
    config: {
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      JWT_ISSUER: "careforall-auth",
      RATE_LIMIT_AUTH: 0,
      RATE_LIMIT_LOGIN_PER_ACCOUNT: 0,
      RATE_LIMIT_DEMO_ACCOUNTS: 0,
      RATE_LIMIT_PLEDGES: 0,
      RATE_LIMIT_TEST_ACCOUNT_PLEDGES: 0,
      TRUSTED_PROXIES: "",
      WS_FRAMES_PER_SECOND: 20,
      WS_FRAME_BURST: 40,
      WS_MAX_FOLLOWS: 100,
      WS_MAX_ROOMS: 20,
      WS_IDLE_TIMEOUT_SECONDS: 60,
      WS_BACKPRESSURE_LIMIT_BYTES: 1024 * 1024,
    },
    fanout: createMemoryFanout({ log }),
    log,
    metrics,
  });
}
