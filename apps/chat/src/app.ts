// The chat service as an Elysia app built from explicit dependencies; no I/O at import time.
// main.ts wires real ones (PostgreSQL, the NATS fan-out, Redis); tests build it in-process.
import type { Fanout } from "@careforall/bus";
import type { RateLimiter } from "@careforall/cache";
import type { Clock } from "@careforall/config";
import {
  createHttpMetrics,
  type HttpMetrics,
  httpKit,
  type ReadinessChecks,
  type ServiceIdentity,
  type SessionDenylist,
  userGuard,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import type { ChatConfig } from "./config";
import type { ChatDb } from "./message-store";
import { createPostMessage } from "./post-message";
import { createReadHistory } from "./read-history";
import { roomRoutes } from "./routes/rooms";

export interface ChatAppDeps {
  db: ChatDb;
  clock: Clock;
  config: Pick<ChatConfig, "JWT_PUBLIC_KEY" | "JWT_ISSUER" | "CHAT_RATE_PER_10S">;
  log: Logger;
  /** Who chat is to its callers; every route names the services it accepts. */
  identity: ServiceIdentity;
  /** Where stored messages are pushed live (NATS core across processes; memory in one process). */
  fanout: Fanout;
  /** Per-user post limit (Redis, falling back to memory). */
  limiter: RateLimiter;
  /** Ended sessions: their tokens may still read, never post (the verifier's rule for writes). */
  denylist?: SessionDenylist;
  /** Pass one to share /metrics with main's gauges (consumer lag); otherwise the app makes its own. */
  metrics?: HttpMetrics;
  /** Extra /ready checks (main adds the bus and Redis); postgres is always checked. */
  checks?: ReadinessChecks;
}

export function createChatApp(deps: ChatAppDeps) {
  const { db, clock, config, log } = deps;
  const metrics = deps.metrics ?? createHttpMetrics("chat");
  const stored = metrics.counter(
    "careforall_chat_messages_stored_total",
    "Messages stored (retries answered from a clientId not counted)",
  );
  const limited = metrics.counter(
    "careforall_chat_posts_rate_limited_total",
    "Posts refused by the per-user rate limit (429)",
  );
  const pushFailed = metrics.counter(
    "careforall_chat_pushes_failed_total",
    "Stored messages whose live push could not be handed to the fan-out (history still has them)",
  );
  const postMessage = createPostMessage({
    db,
    clock,
    log,
    fanout: deps.fanout,
    limiter: deps.limiter,
    ratePer10s: config.CHAT_RATE_PER_10S,
    onStored: () => stored.inc(),
    onRateLimited: () => limited.inc(),
    onPushFailed: () => pushFailed.inc(),
  });
  const guard = userGuard(config, { log, denylist: deps.denylist });
  return new Elysia()
    .use(
      httpKit({
        service: "chat",
        log,
        metrics,
        checks: { postgres: () => db.execute(sql`select 1`), ...deps.checks },
        trust: deps.identity,
      }),
    )
    .use(roomRoutes({ postMessage, readHistory: createReadHistory({ db }), guard }));
}

export type ChatApp = ReturnType<typeof createChatApp>;
export { type ChatConfig, ChatConfigSchema } from "./config";
export { canPost, canRead, parseRoom, type Room } from "./domain";
export { ChatModel } from "./model";
export { chatTopic } from "./post-message";
export { CAMPAIGN_CONSUMER, createCampaignEventsHandler, startCampaignConsumer } from "./workers/campaign-events";
