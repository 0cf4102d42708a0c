// Test harness for the pledge service: a fresh migrated PostgreSQL database, the app called
// in-process, access tokens signed the way auth signs them, a fake bank seam, and helpers that
// feed campaign and payment events straight into the consumers' handlers.
import { expect } from "bun:test";
import { join } from "node:path";
import type { EventEnvelope } from "@careforall/bus";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import type { CampaignSnapshot, PaymentChange } from "@careforall/events";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import {
  accessTokenSigner,
  campaignSnapshot,
  createTestKeys,
  inProcessCaller,
  TEST_ISSUER,
  type TestPrincipal,
  testServiceIdentity,
} from "@careforall/testkit";
import { asc, eq } from "drizzle-orm";
import { createPledgeApp } from "../src/app";
import { cachingSourceVerifier, type GrantInput, type GrantOutcome, type SourceVerifier } from "../src/bank-client";
import { outbox, schema } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { createPledgeService } from "../src/service";
import { createCampaignEventHandler } from "../src/workers/campaign-events";
import { createPaymentEventHandler } from "../src/workers/payment-events";

export const ISSUER = TEST_ISSUER;
/** Keys guests' donor keys in the test app (guestDonorKey). */
export const TEST_DONOR_KEY_SECRET = "test-donor-key-secret-0123456789";

export interface TestUser extends TestPrincipal {
  bankAccountId: string;
}

export const user = (name: string, role: TestUser["role"] = "donor"): TestUser => ({
  id: Bun.randomUUIDv7(),
  email: `${name}@example.test`,
  name,
  role,
  bankAccountId: `acct_${name}_${Math.random().toString(36).slice(2, 10)}`,
});

/**
 * Stands in for the bank's client seam: accounts with secrets and owners, a switch that makes
 * the bank unreachable, an optional delay, and a log of every grant asked for.
 */
export class FakeBank implements SourceVerifier {
  readonly accounts = new Map<string, { secret: string; ownerUserId?: string; currency?: string }>();
  readonly calls: GrantInput[] = [];
  unavailable = false;
  delayMs = 0;

  /** `currency`: what the grant reports, as the real bank does (absent: not reported, not checked). */
  open(accountId: string, secret: string, ownerUserId?: string, currency?: string) {
    this.accounts.set(accountId, {
      secret,
      ...(ownerUserId ? { ownerUserId } : {}),
      ...(currency ? { currency } : {}),
    });
    return { bankAccountId: accountId, accountSecret: secret };
  }

  async grant(input: GrantInput): Promise<GrantOutcome> {
    this.calls.push(input);
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
    if (this.unavailable) return { kind: "unavailable" };
    const account = this.accounts.get(input.accountId);
    if (!account) return { kind: "refused" };
    const ok =
      input.accountSecret !== undefined
        ? input.accountSecret === account.secret
        : input.ownerUserId !== undefined && input.ownerUserId === account.ownerUserId;
    if (!ok) return { kind: "refused" };
    const grant = `grant:${input.accountId}:${this.calls.length}`;
    return account.currency ? { kind: "granted", grant, currency: account.currency } : { kind: "granted", grant };
  }
}

export interface StartOptions {
  stuckAfterSeconds?: number;
  /** A real bank seam (the integration test); the FakeBank otherwise. */
  verifier?: SourceVerifier;
  /** Put main's grant cache in front of the FakeBank (the one-statement accept path). */
  cacheGrants?: boolean;
  /** ACCEPT_BATCH_CONCURRENCY, ACCEPT_DEADLINE_MS and DATABASE_RETRY_MS (defaults 2, 3000, 1000). */
  accept?: { concurrency?: number; deadlineMs?: number; databaseRetryMs?: number };
}

export async function startPledgeTestApp(options: StartOptions = {}) {
  const database = await createTestDatabase("pledge");
  await migrate({
    url: database.url,
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema: "pledge",
  });
  const handle = createDb({ url: database.url, schema, max: 20, name: "pledge-test" });
  const keys = await createTestKeys();
  const clock = manualClock(Date.now());
  const log = silentLogger("pledge-test");
  const bank = new FakeBank();
  const metrics = createHttpMetrics("pledge");
  let commits = 0;
  const onCommitted = () => {
    commits++;
  };
  const config = {
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    JWT_ISSUER: ISSUER,
    IDEMPOTENCY_TTL_HOURS: 24,
    IDEMPOTENCY_LOCK_SECONDS: 60,
    BANK_TIMEOUT_MS: 5_000,
    STUCK_AFTER_SECONDS: options.stuckAfterSeconds ?? 120,
    ACCEPT_BATCH_CONCURRENCY: options.accept?.concurrency ?? 2,
    ACCEPT_BATCH_MAX: 100,
    ACCEPT_DEADLINE_MS: options.accept?.deadlineMs ?? 3_000,
    DATABASE_RETRY_MS: options.accept?.databaseRetryMs ?? 1_000,
    DONOR_KEY_SECRET: TEST_DONOR_KEY_SECRET,
  };
  const verifier =
    options.verifier ??
    (options.cacheGrants ? cachingSourceVerifier(bank, { ttlMs: 300_000, now: () => clock.now() }) : bank);
  const app = createPledgeApp({
    identity: await testServiceIdentity("pledge"),
    db: handle.db,
    verifier,
    clock,
    config,
    log,
    metrics,
    onCommitted,
  });
  /** The same use cases without HTTP, for what main runs on timers (the key sweeper). */
  const service = createPledgeService({ db: handle.db, verifier, clock, log, config });
  const paymentHandler = createPaymentEventHandler({ db: handle.db, clock, log, onCommitted });
  const campaignHandler = createCampaignEventHandler({ db: handle.db, clock, log });

  const tokenFor = await accessTokenSigner(keys.privateKeyPem);

  const call = inProcessCaller(app, tokenFor, "pledge");

  /** A campaign in the read model, as if campaign.created had arrived. */
  async function campaign(overrides: Partial<CampaignSnapshot> = {}): Promise<CampaignSnapshot> {
    const now = clock.date().toISOString();
    const snapshot = campaignSnapshot({ createdAt: now, updatedAt: now, ...overrides });
    await campaignHandler(
      newEvent(
        overrides.version && overrides.version > 1 ? "campaign.updated" : "campaign.created",
        snapshot.id,
        snapshot,
        clock,
      ),
    );
    return snapshot;
  }

  /** Signs a user up at the fake bank with their own account (ownerUserId grant). */
  function withAccount(u: TestUser): TestUser {
    bank.open(u.bankAccountId, `secret-${u.bankAccountId}`, u.id);
    return u;
  }

  /** POST /campaigns/:id/pledges as a signed-in user paying from their own account. */
  function pledgeAs(u: TestUser, campaignId: string, body: Record<string, unknown> = {}, key = Bun.randomUUIDv7()) {
    return call("POST", `/campaigns/${campaignId}/pledges`, {
      as: u,
      body: { amountMinor: 1_000, currency: "BDT", ...body },
      headers: { "idempotency-key": key, "x-donor-bank-account": u.bankAccountId, "x-donor-name": u.name },
    });
  }

  async function createPledge(u: TestUser, campaignId: string, body: Record<string, unknown> = {}) {
    const res = await pledgeAs(u, campaignId, body);
    expect(res.status).toBe(202);
    return (await res.json()) as PledgeModel.Pledge;
  }

  /** Delivers a payment.* event for `pledge` to the consumer's handler (as the bus would). */
  function payment(
    type: string,
    pledge: { id: string; amountMinor: number; currency: string },
    extra: Partial<PaymentChange> = {},
    id?: string,
  ) {
    const data: PaymentChange = {
      paymentId: Bun.randomUUIDv7(),
      pledgeId: pledge.id,
      holdId: Bun.randomUUIDv7(),
      amountMinor: pledge.amountMinor,
      currency: pledge.currency as PaymentChange["currency"],
      reason: null,
      at: clock.date().toISOString(),
      ...extra,
    };
    const event: EventEnvelope = { ...newEvent(type, pledge.id, data, clock), ...(id ? { id } : {}) };
    return paymentHandler(event);
  }

  /** A pledge's events in the order the outbox relay publishes them (event id). */
  async function eventsFor(aggregateId: string) {
    const rows = await handle.db
      .select()
      .from(outbox)
      .where(eq(outbox.aggregateId, aggregateId))
      .orderBy(asc(outbox.id));
    return rows.map((r) => r.envelope as EventEnvelope<Record<string, unknown>>);
  }

  return {
    app,
    db: handle.db,
    client: handle.client,
    clock,
    bank,
    metrics,
    service,
    call,
    tokenFor,
    campaign,
    campaignHandler,
    paymentHandler,
    withAccount,
    pledgeAs,
    createPledge,
    payment,
    eventsFor,
    commits: () => commits,
    async stop() {
      await handle.close();
      await database.drop();
    },
  };
}

export type PledgeTestApp = Awaited<ReturnType<typeof startPledgeTestApp>>;

export { errorPaths, expectProblem } from "@careforall/testkit";
