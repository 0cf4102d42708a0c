// Test harness for the notification service: a fresh migrated PostgreSQL database, the app called
// in-process, the event applier and the stuck sweep on a manual clock, and every push recorded
// from an in-memory fan-out (as the gateway would receive them).
import { join } from "node:path";
import { createMemoryFanout, type EventEnvelope } from "@careforall/bus";
import { manualClock } from "@careforall/config";
import type { CampaignSnapshot, PledgeChange, PledgeCreated, PledgeStatus } from "@careforall/events";
import { createHttpMetrics, type SessionDenylist } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import {
  accessTokenSigner,
  createTestKeys,
  inProcessCaller,
  migratedTestDatabase,
  recordFrames,
  campaignSnapshot as snapshotOf,
  TEST_ISSUER,
  testServiceIdentity,
  testUser,
  waitFor,
} from "@careforall/testkit";
import { createNotificationApp } from "../src/app";
import { createEventApplier } from "../src/apply-events";
import { schema } from "../src/db/schema";
import { createPusher, notificationMetrics } from "../src/pushes";
import { createStuckSweep } from "../src/stuck-pledges";

export const user = testUser;

export const STUCK_AFTER_SECONDS = 120;

export async function startNotificationTestApp(options: { denylist?: SessionDenylist } = {}) {
  const database = await migratedTestDatabase({
    label: "notification",
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema,
    max: 8,
  });
  const keys = await createTestKeys();
  const clock = manualClock(Date.now());
  const log = silentLogger("notification-test");
  const metrics = createHttpMetrics("notification");
  const counters = notificationMetrics(metrics);
  const fanout = createMemoryFanout({ log });
  const push = createPusher(fanout, counters, log);
  const apply = createEventApplier({ db: database.db, log, push, metrics: counters });
  const sweep = createStuckSweep({
    db: database.db,
    clock,
    push,
    metrics: counters,
    graceSeconds: STUCK_AFTER_SECONDS,
  });
  const app = createNotificationApp({
    identity: await testServiceIdentity("notification"),
    db: database.db,
    clock,
    config: { JWT_PUBLIC_KEY: keys.publicKeyPem, JWT_ISSUER: TEST_ISSUER },
    log,
    metrics,
    ...(options.denylist ? { denylist: options.denylist } : {}),
  });
  const tokenFor = await accessTokenSigner(keys.privateKeyPem);
  const call = inProcessCaller(app, tokenFor, "notification");

  /** Every frame published on a topic since `listen(topic)`, parsed. */
  const listen = (topic: string) => recordFrames(fanout, topic);

  /** Applies events and lets the in-memory fan-out deliver what was pushed (it delivers on a microtask). */
  async function applyAndSettle(events: EventEnvelope[]) {
    const summary = await apply(events);
    await Bun.sleep(0);
    return summary;
  }

  return {
    app,
    db: database.db,
    clock,
    call,
    tokenFor,
    keys,
    apply,
    applyAndSettle,
    sweep,
    listen,
    metrics,
    async stop() {
      await fanout.close();
      await database.drop();
    },
  };
}

export type NotificationTestApp = Awaited<ReturnType<typeof startNotificationTestApp>>;

// ── Events as their producers publish them ───────────────────────────────────────────────

export function campaignEvent(
  type: "campaign.created" | "campaign.updated" | "campaign.closed" | "campaign.totals_changed",
  snapshot: CampaignSnapshot,
): EventEnvelope<CampaignSnapshot> {
  return newEvent(type, snapshot.id, snapshot);
}

export const campaignSnapshot = snapshotOf;

export function pledgeCreated(over: Partial<PledgeCreated> = {}): EventEnvelope<PledgeCreated> {
  const data: PledgeCreated = {
    pledgeId: Bun.randomUUIDv7(),
    campaignId: Bun.randomUUIDv7(),
    donorId: null,
    amountMinor: 25_000,
    currency: "BDT",
    source: { bankAccountId: "acct_1", grant: "g" },
    createdAt: new Date().toISOString(),
    ...over,
  };
  return newEvent("pledge.created", data.pledgeId, data);
}

/** A pledge change event for `pledge` (the created event's data) moving to `status`. */
export function pledgeChange(
  pledge: Pick<PledgeCreated, "pledgeId" | "campaignId" | "donorId" | "amountMinor" | "currency">,
  status: Exclude<PledgeStatus, "pending">,
  over: Partial<PledgeChange> = {},
): EventEnvelope<PledgeChange> {
  const data: PledgeChange = {
    pledgeId: pledge.pledgeId,
    campaignId: pledge.campaignId,
    donorId: pledge.donorId,
    donorKey: pledge.donorId ?? "guest:abc",
    donorName: "Ann",
    anonymous: false,
    message: null,
    status,
    amountMinor: pledge.amountMinor,
    currency: pledge.currency,
    failureReason: status === "failed" ? "insufficient_funds" : null,
    at: new Date().toISOString(),
    ...over,
  };
  return newEvent(`pledge.${status}`, data.pledgeId, data);
}

/** The same event delivered again (same id), as the bus does after a lost ack or a crash. */
export const redelivery = <E extends EventEnvelope>(event: E): E => structuredClone(event);

export { waitFor };
export { expectProblem } from "@careforall/testkit";
