// Group commit of accepts: accepts that arrive while every write slot is busy leave together as
// one `accept_pledges` statement. Each must still be exactly the single accept it replaces — its
// own pledge, history, event and stored answer (invariants 1 and 5) —, two requests with one key
// in the same batch must behave as two requests in a row, and an item the database refuses must
// fail alone, leaving nothing of itself and everything of its neighbours.
// One write slot (concurrency 1) and creates submitted in one synchronous loop make the batches
// deterministic: the first create takes the slot, every later one waits for the next batch.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "@careforall/log";
import { and, eq, inArray, sql } from "drizzle-orm";
import { cachingSourceVerifier } from "../src/bank-client";
import { idempotencyKeys, outbox, pledgeHistory, pledges } from "../src/db/schema";
import { type CreatePledgeCommand, createPledgeService, type PledgeService } from "../src/service";
import { type PledgeTestApp, startPledgeTestApp } from "./support";

let h: PledgeTestApp;
let service: PledgeService;
let campaignId: string;
const batches: number[] = [];
const source = { bankAccountId: `acct_batch_${Bun.randomUUIDv7()}`, accountSecret: "batch-secret" };

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
  h.bank.open(source.bankAccountId, source.accountSecret);
  service = createPledgeService({
    db: h.db,
    verifier: cachingSourceVerifier(h.bank, { ttlMs: 300_000, now: () => h.clock.now() }),
    clock: h.clock,
    log: silentLogger("accept-batch-test"),
    config: {
      IDEMPOTENCY_TTL_HOURS: 24,
      IDEMPOTENCY_LOCK_SECONDS: 60,
      BANK_TIMEOUT_MS: 5_000,
      STUCK_AFTER_SECONDS: 120,
      ACCEPT_BATCH_CONCURRENCY: 1,
      ACCEPT_BATCH_MAX: 100,
      ACCEPT_DEADLINE_MS: 3_000,
      DATABASE_RETRY_MS: 1_000,
      DONOR_KEY_SECRET: "accept-batch-donor-key-secret",
    },
    onAcceptBatch: (size) => batches.push(size),
  });
  // The first pledge of this source asks the bank; from then on its grant is cached, so every
  // create goes straight to the accept statement.
  await service.create(guest("warm-up", 1_000));
  batches.length = 0;
});
afterAll(async () => {
  await h.stop();
});

function guest(key: string, amountMinor: number, email = `${key}@example.test`): CreatePledgeCommand {
  return {
    campaignId,
    idempotencyKey: key,
    viewer: null,
    body: { amountMinor, currency: "BDT", donor: { email, name: "সাকিব" }, source },
  };
}

/** Starts every create in one synchronous loop (each submits its accept before the first await). */
const burst = (commands: CreatePledgeCommand[]) => Promise.allSettled(commands.map((c) => service.create(c)));

const pledgeIds = async (ids: string[]) =>
  (await h.db.select({ id: pledges.id }).from(pledges).where(inArray(pledges.id, ids))).map((r) => r.id);

describe("accepts grouped into one statement", () => {
  test("20 at once → batches of 1 and 19; each pledge has its row, history, event and stored answer", async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `burst-${i}-${Bun.randomUUIDv7()}`);
    const results = await burst(keys.map((k, i) => guest(k, 1_000 + i)));
    expect(batches).toEqual([1, 19]);
    const created = results.map((r) => {
      expect(r.status).toBe("fulfilled");
      return (r as PromiseFulfilledResult<Awaited<ReturnType<PledgeService["create"]>>>).value;
    });
    // Each request got its own pledge back, not a neighbour's.
    expect(created.map((c) => c.body.amountMinor)).toEqual(keys.map((_, i) => 1_000 + i));
    expect(created.every((c) => !c.replayed && "receiptToken" in c.body)).toBe(true);
    const ids = created.map((c) => c.body.id);
    expect(new Set(ids).size).toBe(20);
    expect((await pledgeIds(ids)).sort()).toEqual([...ids].sort());
    const history = await h.db.select().from(pledgeHistory).where(inArray(pledgeHistory.pledgeId, ids));
    expect(history).toHaveLength(20);
    const events = await h.db.select().from(outbox).where(inArray(outbox.aggregateId, ids));
    expect(events.map((e) => e.type)).toEqual(Array(20).fill("pledge.created"));
    const stored = await h.db
      .select({ key: idempotencyKeys.key, pledgeId: idempotencyKeys.pledgeId, state: idempotencyKeys.state })
      .from(idempotencyKeys)
      .where(inArray(idempotencyKeys.key, keys));
    expect(stored).toHaveLength(20);
    for (const [i, key] of keys.entries())
      expect(stored.find((s) => s.key === key)).toEqual({ key, pledgeId: ids[i]!, state: "done" });
  });

  test("one key twice in the same batch → one pledge; the second is answered with the first's replay", async () => {
    batches.length = 0;
    const key = `twice-${Bun.randomUUIDv7()}`;
    const [, first, second] = await burst([guest(`blocker-${key}`, 1_000), guest(key, 2_500), guest(key, 2_500)]);
    expect(batches).toEqual([1, 2]);
    expect(first?.status).toBe("fulfilled");
    expect(second?.status).toBe("fulfilled");
    const a = (first as PromiseFulfilledResult<Awaited<ReturnType<PledgeService["create"]>>>).value;
    const b = (second as PromiseFulfilledResult<Awaited<ReturnType<PledgeService["create"]>>>).value;
    expect([a.replayed, b.replayed]).toEqual([false, true]);
    expect(b.body).toEqual(a.body);
    const rows = await h.db
      .select({ n: sql<number>`count(*)::int` })
      .from(pledges)
      .where(and(eq(pledges.campaignId, campaignId), eq(pledges.amountMinor, 2_500)));
    expect(rows[0]!.n).toBe(1);
  });

  test("an accept the database refuses fails alone: nothing of it is stored, its neighbours are", async () => {
    batches.length = 0;
    const keys = Array.from({ length: 5 }, (_, i) => `poison-${i}-${Bun.randomUUIDv7()}`);
    // 50 minor units breaks pledges_amount_minor_check (the gateway's schema refuses it earlier;
    // here it stands for any item whose statement fails).
    const results = await burst([
      guest(`blocker-${keys[0]}`, 1_000),
      ...keys.map((k, i) => guest(k, i === 2 ? 50 : 3_000)),
    ]);
    // The batch of five failed as a whole, then each item was tried alone.
    expect(batches).toEqual([1, 5, 1, 1, 1, 1, 1]);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    expect(String((results[3] as PromiseRejectedResult).reason)).toContain("pledges_amount_minor_check");
    const stored = await h.db
      .select({ key: idempotencyKeys.key })
      .from(idempotencyKeys)
      .where(inArray(idempotencyKeys.key, keys));
    expect(stored.map((s) => s.key).sort()).toEqual([keys[0], keys[1], keys[3], keys[4]].sort() as string[]);
    const count = await h.db
      .select({ n: sql<number>`count(*)::int` })
      .from(pledges)
      .where(and(eq(pledges.campaignId, campaignId), eq(pledges.amountMinor, 3_000)));
    expect(count[0]!.n).toBe(4);
    // The refused key holds nothing, so the client's retry (with a valid amount) is accepted.
    const retry = await service.create(guest(keys[2]!, 3_000));
    expect(retry.replayed).toBe(false);
  });
});
