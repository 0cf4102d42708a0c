// A listening gateway for WebSocket tests: the real app with its real /api/ws, campaigns served
// from a map through the snapshot store, a fan-out the test can publish to (memory by default,
// counted so a test sees how many listeners the gateway opened), and recorded upstream calls.
// Clients are Bun's own WebSocket; `TestSocket` keeps every frame and waits with deadlines.
import { createMemoryFanout, type Fanout } from "@careforall/bus";
import { createMemoryCache, createMemoryRateLimiter } from "@careforall/cache";
import { type Clock, systemClock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import {
  accessTokenSigner,
  campaignSnapshot,
  createTestKeys,
  type Frame,
  type TestPrincipal,
  TestSocket,
} from "@careforall/testkit";

export { type Frame, TestSocket };

import { createGatewayApp, createSnapshotStore, type GatewayClients, type GatewayConfig } from "../src/app";
import type { RealtimeUpstreams } from "../src/realtime";
import { testGatewayConfig, unreachableClients } from "./offline-gateway";

/** Counts what the gateway asks of its fan-out: the claim is one subscription per topic per process. */
export function countingFanout(inner: Fanout) {
  const subscribes = new Map<string, number>();
  const unsubscribes = new Map<string, number>();
  const fanout: Fanout = {
    ...inner,
    publish: (topic, message) => inner.publish(topic, message),
    subscribe(topic, listener) {
      subscribes.set(topic, (subscribes.get(topic) ?? 0) + 1);
      const off = inner.subscribe(topic, listener);
      return () => {
        unsubscribes.set(topic, (unsubscribes.get(topic) ?? 0) + 1);
        off();
      };
    },
    topics: () => inner.topics(),
    flush: () => inner.flush(),
    ping: () => inner.ping(),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
  return { fanout, subscribes, unsubscribes };
}

export interface SayCall {
  room: string;
  text: string;
  clientId?: string;
  bearer: string;
}

export interface HarnessOptions {
  fanout?: Fanout;
  config?: Partial<GatewayConfig>;
  /** Status the fake chat service answers a say with (201 by default). */
  sayStatus?: number;
  /** Status the fake pledge service answers a visibility check with (200 by default). */
  pledgeStatus?: number;
  /** Real clients for some services (e.g. the chat app in-process); the others point nowhere. */
  clients?: Partial<GatewayClients>;
  /** false: `say` and pledge follows go through `clients` (the real Eden path), not the recorded fakes. */
  fakeUpstreams?: boolean;
  /** The gateway's clock (default: the system's); a frozen one makes the frame budget exact. */
  clock?: Clock;
  /** The signing key of access tokens (default: a fresh one). */
  keys?: { privateKeyPem: string; publicKeyPem: string };
}

export async function startRealtimeGateway(options: HarnessOptions = {}) {
  const keys = options.keys ?? (await createTestKeys());
  const sign = await accessTokenSigner(keys.privateKeyPem);
  const log = silentLogger("gateway-realtime");
  const metrics = createHttpMetrics("gateway");
  const campaigns = new Map<string, CampaignSnapshot>();
  const memory = options.fanout ?? createMemoryFanout({ log });
  const counted = countingFanout(memory);
  const calls = {
    say: [] as SayCall[],
    pledge: [] as Array<{ pledgeId: string; receiptToken?: string; bearer?: string }>,
  };
  const upstream = { sayStatus: options.sayStatus ?? 201, pledgeStatus: options.pledgeStatus ?? 200 };
  const upstreams: RealtimeUpstreams = {
    async say(message, bearer) {
      calls.say.push({ ...message, bearer });
      return upstream.sayStatus;
    },
    async pledgeVisible(pledgeId, receiptToken, bearer) {
      calls.pledge.push({
        pledgeId,
        ...(receiptToken ? { receiptToken } : {}),
        ...(bearer ? { bearer } : {}),
      });
      return upstream.pledgeStatus;
    },
  };
  const clients = { ...unreachableClients(), ...options.clients } as unknown as GatewayClients;
  const app = createGatewayApp({
    clients,
    snapshots: createSnapshotStore({
      cache: createMemoryCache(),
      origin: { fetch: async (id) => campaigns.get(id) ?? null },
      clock: systemClock,
      log,
      metrics,
      localTtlMs: 60_000,
      redisTtlSeconds: 60,
    }),
    limiter: createMemoryRateLimiter(),
    config: { ...testGatewayConfig(keys.publicKeyPem), ...options.config },
    fanout: counted.fanout,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.fakeUpstreams === false ? {} : { realtimeUpstreams: upstreams }),
    log,
    metrics,
  });
  app.listen({ port: 0, hostname: "127.0.0.1" });
  const port = app.server?.port as number;
  const sockets: TestSocket[] = [];

  return {
    app,
    port,
    fanout: memory,
    counted,
    calls,
    upstream,
    sign: (u: TestPrincipal, expiresIn?: string) => sign(u, expiresIn),
    /** Adds a campaign the snapshot store's origin knows. */
    campaign(overrides: Partial<CampaignSnapshot> = {}): CampaignSnapshot {
      const c = campaignSnapshot(overrides);
      campaigns.set(c.id, c);
      return c;
    },
    url: (token?: string) =>
      `ws://127.0.0.1:${port}/api/ws${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}`,
    /** Opens a socket (anonymous without a token) and waits until it is open. */
    async connect(token?: string): Promise<TestSocket> {
      const socket = await TestSocket.open(
        `ws://127.0.0.1:${port}/api/ws${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}`,
      );
      sockets.push(socket);
      return socket;
    },
    async metricsText(): Promise<string> {
      return metrics.registry.metrics();
    },
    async stop() {
      for (const s of sockets) s.close();
      if (app.server) await app.stop(true);
      await memory.close();
    },
  };
}

export type RealtimeGateway = Awaited<ReturnType<typeof startRealtimeGateway>>;
