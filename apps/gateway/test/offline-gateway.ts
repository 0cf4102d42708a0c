// The gateway app with nothing behind it: its routes, schemas and documents are all there, and any
// call to a service fails as unreachable. For tests of what the gateway itself declares (and, given
// a web build, of how it serves it).
import { createMemoryFanout } from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { systemClock } from "@careforall/config";
import { createHttpMetrics, freePort } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { createTestKeys } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { createGatewayApp, createSnapshotStore, type GatewayClients } from "../src/app";

/** Every upstream client pointed at a port nothing listens on: any call fails as unreachable. */
export function unreachableClients(): GatewayClients {
  const nowhere = `127.0.0.1:${freePort()}`;
  return Object.fromEntries(
    ["auth", "campaign", "pledge", "payment", "bank", "chat", "notification"].map((n) => [n, treaty(nowhere)]),
  ) as unknown as GatewayClients;
}

/** The gateway settings tests start from: no rate limits, no trusted proxies, the default socket limits. */
export function testGatewayConfig(jwtPublicKeyPem: string) {
  return {
    JWT_PUBLIC_KEY: jwtPublicKeyPem,
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
  };
}

export async function offlineGateway(web?: { distDir: string }) {
  const keys = await createTestKeys();
  const log = silentLogger("gateway-offline");
  const metrics = createHttpMetrics("gateway");
  return createGatewayApp({
    ...(web ? { web } : {}),
    clients: unreachableClients(),
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
    config: testGatewayConfig(keys.publicKeyPem),
    fanout: createMemoryFanout({ log }),
    log,
    metrics,
  });
}
