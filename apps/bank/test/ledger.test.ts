// Invariant 4 under a concurrent mix of every money operation: the entries sum to 0, each transfer
// has two entries that cancel out, every balance is the sum of its entries, held amounts equal the
// holds still held, and no non-system account is ever below zero available.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createBankConsumers } from "../src/consumers";
import type { BankModel } from "../src/model";
import { createExpirySweeper } from "../src/workers/expiry-sweeper";
import { authorizeBody, type BankTestApp, startBankTestApp } from "./support";

let h: BankTestApp;

beforeAll(async () => {
  h = await startBankTestApp();
});
afterAll(async () => {
  await h.stop();
});

/** A tiny deterministic PRNG, so a failure replays the same mix. */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("a concurrent mix of opens, holds, captures, releases, refunds and expiries keeps the ledger balanced", async () => {
  const rand = mulberry32(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const consumers = createBankConsumers({ db: h.db, clock: h.clock, log: h.log, config: h.config });
  const payers = await Promise.all([2_000, 5_000, 700, 10_000].map((b) => h.accountWith(b)));
  for (let i = 0; i < 3; i++) {
    await consumers.onUserRegistered({
      id: Bun.randomUUIDv7(),
      type: "user.registered",
      occurredAt: h.clock.date().toISOString(),
      aggregateId: `ledger-user-${i}`,
      data: { userId: `ledger-user-${i}`, email: `u${i}@example.test`, name: "U", role: "donor" },
    });
  }
  const campaigns = ["ledger-c1", "ledger-c2", "ledger-c3"];
  const statuses: number[] = [];
  const post = async (path: string, body: unknown) => {
    const res = await h.call("POST", path, body);
    statuses.push(res.status);
    return res;
  };

  async function scenario(round: number) {
    const payer = pick(payers);
    const body = authorizeBody({
      accountId: payer.accountId,
      grant: payer.grant,
      amountMinor: 1 + Math.floor(rand() * 900),
      campaignId: pick(campaigns),
      idempotencyKey: `mix-${round}`,
    });
    const r = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
    if (r.status !== "held") return;
    const roll = rand();
    if (roll < 0.3) {
      await post("/bank/release", { idempotencyKey: `${body.idempotencyKey}:r`, holdId: r.holdId });
    } else if (roll < 0.85) {
      const partial = rand() < 0.3 ? Math.max(1, Math.floor(body.amountMinor / 2)) : undefined;
      // Capture and a racing release: exactly one may win.
      await Promise.all([
        post("/bank/capture", { idempotencyKey: `${body.idempotencyKey}:c`, holdId: r.holdId, amountMinor: partial }),
        rand() < 0.3 ? post("/bank/release", { idempotencyKey: `${body.idempotencyKey}:r`, holdId: r.holdId }) : null,
      ]);
      if (rand() < 0.5) {
        // Two concurrent refunds of "the rest": one wins, the other finds nothing left.
        await Promise.all([
          post("/bank/refund", { idempotencyKey: `${body.idempotencyKey}:f1`, holdId: r.holdId }),
          post("/bank/refund", { idempotencyKey: `${body.idempotencyKey}:f2`, holdId: r.holdId }),
        ]);
      }
    }
    // The rest stay held and expire below.
  }

  await Promise.all(Array.from({ length: 60 }, (_, i) => scenario(i)));
  // Races lose with 409, never with a server error (no deadlock, no constraint surprise).
  expect(statuses.filter((s) => s !== 200 && s !== 409)).toEqual([]);
  expect(statuses.filter((s) => s === 409).length).toBeGreaterThan(0);
  h.clock.advance(h.config.HOLD_TTL_SECONDS * 1000);
  const sweeper = createExpirySweeper({ db: h.db, clock: h.clock, log: h.log, intervalMs: 1000 });
  while ((await sweeper.sweepOnce()) > 0) {}

  await h.expectLedgerBalanced();
  // Held amounts are exactly the holds still held (none after the sweep).
  const held = await h.db.execute(sql`
    select a.id from bank.accounts a
    left join bank.holds hd on hd.account_id = a.id and hd.status = 'held'
    group by a.id, a.held_minor having a.held_minor <> coalesce(sum(hd.amount_minor), 0)`);
  expect([...held]).toEqual([]);
  // Each campaign account holds exactly captured minus refunded of its holds (invariant 3's bank side).
  const campaignsDrift = await h.db.execute(sql`
    select a.id from bank.accounts a
    left join bank.holds hd on hd.to_account_id = a.id
    where a.owner_type = 'campaign'
    group by a.id, a.balance_minor
    having a.balance_minor <> coalesce(sum(hd.captured_minor - hd.refunded_minor), 0)`);
  expect([...campaignsDrift]).toEqual([]);
  const [{ n }] = (await h.db.execute(sql`select count(*)::int as n from bank.transfers`)) as unknown as [
    { n: number },
  ];
  expect(n).toBeGreaterThan(20);
});
