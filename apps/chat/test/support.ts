// Test harness for the chat service: a fresh migrated PostgreSQL database, the app called
// in-process as the gateway calls it, access tokens signed the way auth signs them, and a
// recorder of what the fan-out carries (memory by default; a test may pass NATS).
import { join } from "node:path";
import { createMemoryFanout, type EventEnvelope, type Fanout } from "@careforall/bus";
import { createMemoryRateLimiter } from "@careforall/cache";
import { manualClock } from "@careforall/config";
import type { SessionDenylist } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import {
  accessTokenSigner,
  createTestKeys,
  inProcessCaller,
  migratedTestDatabase,
  recordFrames,
  TEST_ISSUER,
  type TestPrincipal,
  testServiceIdentity,
  testUser,
} from "@careforall/testkit";
import { createChatApp } from "../src/app";
import { rememberCampaigns } from "../src/campaign-directory";
import { schema } from "../src/db/schema";

export type TestUser = TestPrincipal;

export const user = testUser;

export const MIGRATIONS = join(import.meta.dir, "..", "src", "db", "migrations");

export interface ChatTestOptions {
  /** Posts per user per 10 s; default 0 (no limit) unless a test is about the limit. */
  ratePer10s?: number;
  /** Default: an in-memory fan-out, closed at stop. */
  fanout?: Fanout;
  denylist?: SessionDenylist;
}

export async function startChatTestApp(options: ChatTestOptions = {}) {
  const database = await migratedTestDatabase({ label: "chat", migrationsFolder: MIGRATIONS, schema });
  const keys = await createTestKeys();
  const clock = manualClock(Date.now());
  const log = silentLogger("chat-test");
  const fanout = options.fanout ?? createMemoryFanout({ log });
  const app = createChatApp({
    identity: await testServiceIdentity("chat"),
    db: database.db,
    clock,
    config: { JWT_PUBLIC_KEY: keys.publicKeyPem, JWT_ISSUER: TEST_ISSUER, CHAT_RATE_PER_10S: options.ratePer10s ?? 0 },
    log,
    fanout,
    limiter: createMemoryRateLimiter(clock),
    ...(options.denylist ? { denylist: options.denylist } : {}),
  });
  const tokenFor = await accessTokenSigner(keys.privateKeyPem);
  const call = inProcessCaller(app, tokenFor, "chat");

  return {
    app,
    db: database.db,
    clock,
    call,
    tokenFor,
    /** Auth's signing key in this test: for tokens with claims accessTokenSigner does not set. */
    jwtPrivateKeyPem: keys.privateKeyPem,
    fanout,
    /** A campaign chat knows exists (as if its campaign.created had been consumed); returns its room. */
    async campaignRoom(): Promise<string> {
      const id = Bun.randomUUIDv7();
      await rememberCampaigns(database.db, clock, [id]);
      return `campaign:${id}`;
    },
    post(room: string, as: TestUser | null, body: unknown) {
      return call("POST", `/rooms/${room}/messages`, { ...(as ? { as } : {}), body });
    },
    read(room: string, as: TestUser | null, query = "") {
      return call("GET", `/rooms/${room}/messages${query}`, as ? { as } : {});
    },
    /** Every frame the fan-out carries on `topic` from now on, parsed. */
    record: (topic: string) => recordFrames(fanout, topic),
    async stop() {
      await fanout.close();
      await database.drop();
    },
  };
}

export type ChatTestApp = Awaited<ReturnType<typeof startChatTestApp>>;

/** A campaign.* event as the campaign service publishes it; `data` may be malformed on purpose. */
export const campaignEvent = (type: string, data: unknown): EventEnvelope => ({
  id: Bun.randomUUIDv7(),
  type,
  occurredAt: new Date().toISOString(),
  aggregateId: (data as { id?: string }).id ?? "x",
  data,
});

export interface MessageBody {
  id: string;
  room: string;
  userId: string;
  name: string;
  text: string;
  at: string;
  clientId?: string;
}

export { errorPaths, expectProblem, waitFor } from "@careforall/testkit";
