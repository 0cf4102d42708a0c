// Test harness for the payment service: a fresh migrated PostgreSQL database, the service and
// the app in-process around a BankClient (the fake by default), a manual clock, the reconciler,
// and builders for pledge events and signed bank webhooks.
import { join } from "node:path";
import { signWebhook } from "@careforall/bank";
import type { EventEnvelope } from "@careforall/bus";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import type { PledgeChange, PledgeCreated } from "@careforall/events";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { adminTokenFor, createTestKeys, serviceHeaders, TEST_ISSUER, testServiceIdentity } from "@careforall/testkit";
import { asc, eq } from "drizzle-orm";
import { buildPaymentService, createPaymentApp } from "../src/app";
import type { BankClient } from "../src/bank-client";
import type { PaymentConfig } from "../src/config";
import { outbox, paymentHistory, payments, schema } from "../src/db/schema";
import { createReconciler } from "../src/workers/reconciler";
import { FakeBank } from "./fake-bank";

export const WEBHOOK_SECRET = "test-webhook-secret-0123456789";

const keys = await createTestKeys();
/** An administrator's access token: the operator routes act for one. */
export const adminToken = await adminTokenFor(keys.privateKeyPem);

export const TEST_CONFIG = {
  WEBHOOK_SECRET,
  JWT_PUBLIC_KEY: keys.publicKeyPem,
  JWT_ISSUER: TEST_ISSUER,
  RETRY_BACKOFF_MS: "100,200,400",
  RECONCILE_AFTER_MS: 5000,
  RECONCILE_INTERVAL_MS: 50,
  BANK_TIMEOUT_MS: 2000,
} satisfies Pick<
  PaymentConfig,
  | "WEBHOOK_SECRET"
  | "RETRY_BACKOFF_MS"
  | "RECONCILE_AFTER_MS"
  | "RECONCILE_INTERVAL_MS"
  | "BANK_TIMEOUT_MS"
  | "JWT_PUBLIC_KEY"
  | "JWT_ISSUER"
>;

export async function startPaymentTestApp<B extends BankClient = FakeBank>(options: { bank?: B } = {}) {
  const database = await createTestDatabase("payment");
  await migrate({
    url: database.url,
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema: "payment",
  });
  const handle = createDb({ url: database.url, schema, max: 20, name: "payment-test" });
  const bank = (options.bank ?? new FakeBank()) as B;
  const clock = manualClock(Date.now());
  const log = silentLogger("payment-test");
  const metrics = createHttpMetrics("payment");
  let commits = 0;
  const deps = {
    db: handle.db,
    bank,
    clock,
    config: TEST_CONFIG,
    log,
    metrics,
    onCommitted: () => {
      commits++;
    },
  };
  const service = buildPaymentService(deps);
  const app = createPaymentApp({ ...deps, service, identity: await testServiceIdentity("payment") });
  const reconciler = createReconciler({ db: handle.db, service, clock, config: TEST_CONFIG, log });

  /** Calls payment as the gateway does: its service credential, and an admin's token on operator routes. */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const admin: Record<string, string> = path.startsWith("/payments/webhook")
      ? {}
      : { authorization: `Bearer ${adminToken}` };
    const init: RequestInit = { method, headers: { ...(await serviceHeaders("payment")), ...admin, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    return app.handle(new Request(`http://localhost${path}`, init));
  }

  /** POSTs a webhook signed (by default correctly, now) the way the bank signs it. */
  async function webhook(body: string, signature: string | null = signWebhook(WEBHOOK_SECRET, body, nowSeconds())) {
    return call("POST", "/payments/webhook", body, signature === null ? {} : { "bank-signature": signature });
  }
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  async function payment(id: string) {
    const [row] = await handle.db.select().from(payments).where(eq(payments.id, id));
    return row!;
  }
  async function paymentOfPledge(pledgeId: string) {
    const [row] = await handle.db.select().from(payments).where(eq(payments.pledgeId, pledgeId));
    return row;
  }
  async function events(paymentId: string) {
    const rows = await handle.db.select().from(outbox).where(eq(outbox.aggregateId, paymentId)).orderBy(asc(outbox.id));
    return rows.map((r) => r.envelope as EventEnvelope<{ paymentId: string; pledgeId: string; reason: string | null }>);
  }
  async function history(paymentId: string) {
    const rows = await handle.db
      .select()
      .from(paymentHistory)
      .where(eq(paymentHistory.paymentId, paymentId))
      .orderBy(asc(paymentHistory.id));
    return rows.map((r) => r.status);
  }

  /** Moves time past RECONCILE_AFTER_MS (and any backoff), then runs one reconciler pass. */
  async function reconcileLater() {
    clock.advance(TEST_CONFIG.RECONCILE_AFTER_MS + 1000);
    return reconciler.runOnce();
  }

  return {
    app,
    db: handle.db,
    bank,
    clock,
    service,
    reconciler,
    metrics,
    call,
    webhook,
    nowSeconds,
    payment,
    paymentOfPledge,
    events,
    history,
    reconcileLater,
    commits: () => commits,
    async stop() {
      await reconciler.stop();
      await service.idle();
      await handle.close();
      await database.drop();
    },
  };
}

export type PaymentTestApp<B extends BankClient = FakeBank> = Awaited<ReturnType<typeof startPaymentTestApp<B>>>;

/** A pledge.created envelope as the pledge service publishes it. */
export function pledgeCreated(
  overrides: Partial<PledgeCreated> = {},
  eventId = Bun.randomUUIDv7(),
): EventEnvelope<PledgeCreated, "pledge.created"> {
  const pledgeId = overrides.pledgeId ?? Bun.randomUUIDv7();
  return {
    id: eventId,
    type: "pledge.created",
    occurredAt: new Date().toISOString(),
    aggregateId: pledgeId,
    data: {
      pledgeId,
      campaignId: Bun.randomUUIDv7(),
      donorId: null,
      amountMinor: 2500,
      currency: "BDT",
      source: { bankAccountId: "acct_donor", grant: "grant-token" },
      createdAt: new Date().toISOString(),
      ...overrides,
    },
  };
}

/** A pledge.cancelled / pledge.refund_requested envelope for a pledge. */
export function pledgeChange(
  type: "pledge.cancelled" | "pledge.refund_requested",
  pledge: PledgeCreated,
  eventId = Bun.randomUUIDv7(),
): EventEnvelope<PledgeChange> {
  return {
    id: eventId,
    type,
    occurredAt: new Date().toISOString(),
    aggregateId: pledge.pledgeId,
    data: {
      pledgeId: pledge.pledgeId,
      campaignId: pledge.campaignId,
      donorId: pledge.donorId,
      donorKey: "guest:abc",
      donorName: null,
      anonymous: false,
      message: null,
      status: type === "pledge.cancelled" ? "cancelled" : "captured",
      amountMinor: pledge.amountMinor,
      currency: pledge.currency,
      failureReason: null,
      at: new Date().toISOString(),
    },
  };
}

/** The body of a bank webhook (as text, exactly what gets signed). */
export function webhookBody(
  type: string,
  paymentId: string,
  holdId: string | null,
  overrides: { id?: string; reason?: string | null; amountMinor?: number } = {},
): string {
  return JSON.stringify({
    id: overrides.id ?? `evt_${Bun.randomUUIDv7()}`,
    type,
    createdAt: new Date().toISOString(),
    data: {
      holdId,
      paymentRef: paymentId,
      amountMinor: overrides.amountMinor ?? 2500,
      currency: "BDT",
      status: type.replace("hold.", ""),
      reason: overrides.reason ?? null,
    },
  });
}
