// The bank's consumers: user.registered opens exactly one funded account and campaign.created
// exactly one receiving account (adopting one a pledge created first), however often the event
// arrives; each emits bank.account_opened through the outbox, which the relay publishes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Bus, createMemoryBus, type EventEnvelope, type Subscription } from "@careforall/bus";
import type { BankAccountOpened, CampaignSnapshot, UserRegisteredEvent } from "@careforall/events";
import { createOutboxRelay, type OutboxRelay } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { and, eq, sql } from "drizzle-orm";
import { type BankConsumers, createBankConsumers } from "../src/consumers";
import { accounts, entries, inbox, outbox, transfers } from "../src/db/schema";
import { systemAccountId } from "../src/ledger";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, startBankTestApp } from "./support";

let h: BankTestApp;
let consumers: BankConsumers;
let bus: Bus;
let relay: OutboxRelay;
let subscriptions: Subscription[];
const opened: Array<EventEnvelope<BankAccountOpened>> = [];

beforeAll(async () => {
  h = await startBankTestApp();
  bus = createMemoryBus({ log: h.log });
  relay = createOutboxRelay({ db: h.db, table: outbox, bus, log: h.log, pollMs: 20 });
  consumers = createBankConsumers({
    db: h.db,
    clock: h.clock,
    log: h.log,
    config: h.config,
    onCommitted: () => relay.kick(),
  });
  subscriptions = await consumers.subscribe(bus);
  await bus.subscribe({
    types: ["bank.account_opened"],
    handler: async (event) => {
      opened.push(event as EventEnvelope<BankAccountOpened>);
    },
  });
  relay.start();
});
afterAll(async () => {
  for (const subscription of subscriptions) await subscription.stop();
  await relay.stop();
  await bus.close();
  await h.expectLedgerBalanced();
  await h.stop();
});

const userRegistered = (userId: string): UserRegisteredEvent => ({
  id: Bun.randomUUIDv7(),
  type: "user.registered",
  occurredAt: new Date().toISOString(),
  aggregateId: userId,
  data: { userId, email: `${userId}@example.test`, name: userId, role: "donor" },
});

const campaignCreated = (id: string, currency: "BDT" | "USD" = "BDT"): EventEnvelope<CampaignSnapshot> => {
  const now = new Date().toISOString();
  return {
    id: Bun.randomUUIDv7(),
    type: "campaign.created",
    occurredAt: now,
    aggregateId: id,
    data: {
      id,
      ownerId: Bun.randomUUIDv7(),
      title: "Water",
      description: "",
      goalMinor: 10_000,
      currency,
      status: "active",
      raisedMinor: 0,
      donorCount: 0,
      pledgeCount: 0,
      endsAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    },
  };
};

const accountsOf = (ownerType: "user" | "campaign", ownerId: string) =>
  h.db
    .select()
    .from(accounts)
    .where(and(eq(accounts.ownerType, ownerType), eq(accounts.ownerId, ownerId)));

async function outboxFor(accountId: string) {
  const rows = await h.db.select().from(outbox).where(eq(outbox.aggregateId, accountId));
  return rows.map((r) => r.envelope as EventEnvelope<BankAccountOpened>);
}

describe("user.registered", () => {
  test("opens one BDT account funded with the demo balance by a funding transfer, even when delivered twice", async () => {
    const userId = Bun.randomUUIDv7();
    const event = userRegistered(userId);
    expect(await consumers.onUserRegistered(event)).toBe(true);
    expect(await consumers.onUserRegistered(event)).toBe(false);
    // Two concurrent redeliveries: the inbox primary key lets one through at most.
    expect(await Promise.all([consumers.onUserRegistered(event), consumers.onUserRegistered(event)])).toEqual([
      false,
      false,
    ]);

    const rows = await accountsOf("user", userId);
    expect(rows).toHaveLength(1);
    const account = rows[0]!;
    expect(account).toMatchObject({
      currency: "BDT",
      balanceMinor: h.config.DEMO_BALANCE_MINOR,
      heldMinor: 0,
      secretHash: null,
    });
    const funding = await h.db.select().from(transfers).where(eq(transfers.creditAccountId, account.id));
    expect(funding).toEqual([
      expect.objectContaining({
        kind: "funding",
        debitAccountId: systemAccountId("BDT"),
        amountMinor: h.config.DEMO_BALANCE_MINOR,
      }),
    ]);
    const events = await outboxFor(account.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "bank.account_opened",
      aggregateId: account.id,
      data: { accountId: account.id, ownerType: "user", ownerId: userId, currency: "BDT" },
    });
    const [seen] = await h.db.select({ n: sql<number>`count(*)::int` }).from(inbox).where(eq(inbox.eventId, event.id));
    expect(seen!.n).toBe(1);
  });

  test("concurrent first deliveries of two different events for one user still open one account", async () => {
    const userId = Bun.randomUUIDv7();
    await Promise.all([
      consumers.onUserRegistered(userRegistered(userId)),
      consumers.onUserRegistered(userRegistered(userId)),
    ]);
    const rows = await accountsOf("user", userId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.balanceMinor).toBe(h.config.DEMO_BALANCE_MINOR);
    const credited = await h.db.select().from(entries).where(eq(entries.accountId, rows[0]!.id));
    expect(credited).toHaveLength(1);
  });

  test("through the bus: the durable consumer opens the account and bank.account_opened is published", async () => {
    const userId = Bun.randomUUIDv7();
    await bus.publish(userRegistered(userId));
    const event = await waitFor(() => opened.find((e) => e.data.ownerId === userId), {
      what: "bank.account_opened on the bus",
    });
    expect(event.data).toMatchObject({ ownerType: "user", currency: "BDT" });
    const balance = await h.json<BankModel.Balance>("GET", `/bank/accounts/by-owner/user/${userId}`);
    expect(balance).toMatchObject({ bankAccountId: event.data.accountId, balanceMinor: h.config.DEMO_BALANCE_MINOR });
    // The user can pay from it as its owner.
    expect(
      (await h.call("POST", "/bank/grants", { accountId: event.data.accountId, ownerUserId: userId })).status,
    ).toBe(201);
  });
});

describe("campaign.created", () => {
  test("opens one empty account in the campaign's currency, once", async () => {
    const id = Bun.randomUUIDv7();
    const event = campaignCreated(id, "USD");
    expect(await consumers.onCampaignCreated(event)).toBe(true);
    expect(await consumers.onCampaignCreated(event)).toBe(false);
    const rows = await accountsOf("campaign", id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ currency: "USD", balanceMinor: 0, heldMinor: 0 });
    const events = await outboxFor(rows[0]!.id);
    expect(events.map((e) => e.data)).toEqual([
      { accountId: rows[0]!.id, ownerType: "campaign", ownerId: id, currency: "USD" },
    ]);
  });

  test("adopts the account a pledge created before the event arrived (no second account, money kept)", async () => {
    const id = Bun.randomUUIDv7();
    const payer = await h.accountWith(5000);
    const held = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: payer.accountId, grant: payer.grant, campaignId: id, amountMinor: 800 }),
    );
    await h.json("POST", "/bank/capture", { idempotencyKey: "adopt-capture", holdId: held.holdId });
    const [lazy] = await accountsOf("campaign", id);
    expect(lazy).toMatchObject({ balanceMinor: 800 });

    await bus.publish(campaignCreated(id));
    const event = await waitFor(() => opened.find((e) => e.data.ownerId === id), {
      what: "the campaign's bank.account_opened",
    });
    expect(event.data.accountId).toBe(lazy!.id);
    const rows = await accountsOf("campaign", id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: lazy!.id, balanceMinor: 800 });
  });
});
