// The hold expiry sweeper, driven by a manual clock: past-due holds still `held` become expired,
// their amount goes back to the payer, a hold.expired webhook is queued; nothing else is touched,
// and two sweepers running at once never expire a hold twice.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { asc, eq } from "drizzle-orm";
import { holds, webhookDeliveries } from "../src/db/schema";
import type { WebhookPayload } from "../src/ledger";
import type { BankModel } from "../src/model";
import { createExpirySweeper } from "../src/workers/expiry-sweeper";
import { authorizeBody, type BankTestApp, expectProblem, startBankTestApp } from "./support";

let h: BankTestApp;

beforeAll(async () => {
  h = await startBankTestApp();
});
afterAll(async () => {
  await h.expectLedgerBalanced();
  await h.stop();
});

async function hold(accountId: string, grant: string, amountMinor: number) {
  const body = authorizeBody({ accountId, grant, amountMinor });
  const result = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
  expect(result.status).toBe("held");
  return { holdId: result.holdId!, key: body.idempotencyKey, paymentRef: body.paymentRef };
}

test("expires past-due held holds, releases their amount, queues hold.expired; leaves the rest", async () => {
  const a = await h.accountWith(5000);
  const old = await hold(a.accountId, a.grant, 1000);
  h.clock.advance(60_000);
  const fresh = await hold(a.accountId, a.grant, 500);
  const captured = await hold(a.accountId, a.grant, 300);
  await h.json("POST", "/bank/capture", { idempotencyKey: `${captured.key}:capture`, holdId: captured.holdId });
  const sweeper = createExpirySweeper({ db: h.db, clock: h.clock, log: h.log, intervalMs: 1000 });

  expect(await sweeper.sweepOnce()).toBe(0);
  // `old` is exactly due now; `fresh` has a minute left.
  h.clock.advance(h.config.HOLD_TTL_SECONDS * 1000 - 60_000);
  expect(await sweeper.sweepOnce()).toBe(1);
  expect((await h.json<BankModel.Hold>("GET", `/bank/holds/${old.holdId}`)).status).toBe("expired");
  expect((await h.json<BankModel.Hold>("GET", `/bank/holds/${fresh.holdId}`)).status).toBe("held");
  expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 4700, heldMinor: 500 });
  const hooks = (await h.db.select().from(webhookDeliveries).orderBy(asc(webhookDeliveries.id)))
    .map((r) => r.payload as unknown as WebhookPayload)
    .filter((p) => p.data.paymentRef === old.paymentRef);
  expect(hooks.map((w) => [w.type, w.data.status, w.data.holdId, w.data.amountMinor])).toEqual([
    ["hold.authorized", "held", old.holdId, 1000],
    ["hold.expired", "expired", old.holdId, 1000],
  ]);
  // An expired hold is final.
  await expectProblem(
    await h.call("POST", "/bank/release", { idempotencyKey: `${old.key}:r`, holdId: old.holdId }),
    409,
  );
  await expectProblem(
    await h.call("POST", "/bank/capture", { idempotencyKey: `${old.key}:c`, holdId: old.holdId }),
    409,
  );

  h.clock.advance(60_000);
  expect(await sweeper.sweepOnce()).toBe(1);
  expect(await sweeper.sweepOnce()).toBe(0);
  expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 4700, heldMinor: 0 });
  expect((await h.json<BankModel.Hold>("GET", `/bank/holds/${captured.holdId}`)).status).toBe("captured");
});

test("concurrent sweepers (replicas) split the due holds and expire each exactly once", async () => {
  const a = await h.accountWith(100_000);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push((await hold(a.accountId, a.grant, 100)).holdId);
  h.clock.advance(h.config.HOLD_TTL_SECONDS * 1000);
  const sweepers = [1, 2, 3].map(() =>
    createExpirySweeper({ db: h.db, clock: h.clock, log: h.log, intervalMs: 1000, batchSize: 7 }),
  );
  let total = 0;
  for (;;) {
    const counts = await Promise.all(sweepers.map((s) => s.sweepOnce()));
    total += counts.reduce((x, y) => x + y, 0);
    if (counts.every((c) => c === 0)) break;
  }
  expect(total).toBe(30);
  const rows = await h.db.select().from(holds).where(eq(holds.accountId, a.accountId));
  expect(rows.every((r) => r.status === "expired")).toBe(true);
  expect(await h.account(a.accountId)).toMatchObject({ balanceMinor: 100_000, heldMinor: 0 });
  const expired = await h.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.type, "hold.expired"));
  const forThese = expired.filter((r) => ids.includes((r.payload as unknown as WebhookPayload).data.holdId!));
  expect(forThese).toHaveLength(30);
});

test("the running loop expires a due hold on its own", async () => {
  const a = await h.accountWith(5000);
  const held = await hold(a.accountId, a.grant, 1000);
  const sweeper = createExpirySweeper({ db: h.db, clock: h.clock, log: h.log, intervalMs: 20 });
  sweeper.start();
  try {
    h.clock.advance(h.config.HOLD_TTL_SECONDS * 1000);
    await waitFor(
      async () => (await h.json<BankModel.Hold>("GET", `/bank/holds/${held.holdId}`)).status === "expired",
      {
        what: "the sweeper loop to expire the hold",
      },
    );
  } finally {
    await sweeper.stop();
  }
  expect(await h.account(a.accountId)).toMatchObject({ heldMinor: 0 });
});
