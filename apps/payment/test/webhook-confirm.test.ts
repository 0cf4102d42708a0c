// A signature proves who sent a webhook, not that what it says happened. Against the REAL bank:
// a correctly signed webhook claiming an outcome the bank's records do not show (a capture, release
// or expiry of a hold that is still held, a failure of an authorize the bank granted) moves nothing,
// emits nothing and leaves the bank as it was; once the bank really did it, the same claim is
// applied — as the bank tells it. Singly and in a batch (invariant 1, DESIGN "Bank webhooks").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signWebhook } from "@careforall/bank";
import type { BankClient } from "../src/bank-client";
import { NO_FAULTS, type RealBank, startRealBank } from "./real-bank";
import { type PaymentTestApp, pledgeCreated, startPaymentTestApp, WEBHOOK_SECRET, webhookBody } from "./support";

let bank: RealBank;
let h: PaymentTestApp<BankClient>;

beforeAll(async () => {
  bank = await startRealBank();
  h = await startPaymentTestApp<BankClient>({ bank: bank.client() });
});
afterAll(async () => {
  await h?.stop();
  await bank?.stop();
});

const applied = async (res: Response) => {
  expect(res.status).toBe(200);
  return ((await res.json()) as { applied: boolean }).applied;
};

async function mismatches(): Promise<number> {
  const text = await h.metrics.registry.getSingleMetricAsString("careforall_payment_webhook_mismatches_total");
  return Number(/ (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Everything a webhook could have changed about a payment. */
async function footprint(paymentId: string) {
  const p = await h.payment(paymentId);
  return {
    status: p.status,
    holdId: p.holdId,
    version: p.version,
    history: await h.history(paymentId),
    events: (await h.events(paymentId)).map((e) => e.type),
  };
}

/**
 * A payment left authorizing while the bank holds its money: the authorize committed at the bank
 * but its answer was lost. Afterwards every money call fails before doing anything (errorRate 1),
 * so only what a test does itself moves the hold.
 */
async function authorizing(amountMinor = 2_500) {
  const account = await bank.accountWithGrant();
  await bank.faults.update({ ...NO_FAULTS, lostResponseRate: 1 });
  const row = (await h.service.handlePledgeCreated(
    pledgeCreated({ amountMinor, source: { bankAccountId: account.accountId, grant: account.grant } }),
  ))!;
  await bank.faults.update({ ...NO_FAULTS, errorRate: 1 });
  expect(row).toMatchObject({ status: "authorizing", holdId: null });
  const { holdId } = await bank.holdByKey(row.id);
  expect(holdId).toBeTruthy();
  expect((await bank.hold(holdId!)).status).toBe("held");
  return { row, holdId: holdId!, amountMinor };
}

/** A payment whose capture was sent but failed unknowably (nothing done): capturing, the hold still held. */
async function capturing() {
  const { row, holdId, amountMinor } = await authorizing();
  // The bank's stored answer under our key confirms the hold: applied, and the capture goes out (and fails).
  expect(await applied(await h.webhook(webhookBody("hold.authorized", row.id, holdId, { amountMinor })))).toBe(true);
  await h.service.idle();
  expect((await h.payment(row.id)).status).toBe("capturing");
  return { row, holdId, amountMinor };
}

describe("claims the bank does not confirm change nothing", () => {
  test("while authorizing: hold.captured with the right hold id (the issue's case), hold.released, hold.expired and hold.failed", async () => {
    const { row, holdId, amountMinor } = await authorizing();
    const before = await footprint(row.id);
    const counted = await mismatches();
    for (const type of ["hold.captured", "hold.released", "hold.expired"]) {
      expect(await applied(await h.webhook(webhookBody(type, row.id, holdId, { amountMinor })))).toBe(false);
    }
    const failed = webhookBody("hold.failed", row.id, null, { amountMinor, reason: "declined" });
    expect(await applied(await h.webhook(failed))).toBe(false);
    await h.service.idle();
    expect(await footprint(row.id)).toEqual(before);
    expect(before.events).toEqual([]);
    expect(await mismatches()).toBe(counted + 4);
    // The bank was asked, not told: its hold is untouched.
    expect(await bank.hold(holdId)).toMatchObject({ status: "held", capturedMinor: 0 });
  });

  test("while capturing: a hold.captured the bank has not done is not applied", async () => {
    const { row, holdId, amountMinor } = await capturing();
    const before = await footprint(row.id);
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, holdId, { amountMinor })))).toBe(false);
    expect(await applied(await h.webhook(webhookBody("hold.released", row.id, holdId, { amountMinor })))).toBe(false);
    expect(await footprint(row.id)).toEqual(before);
    expect(before.events).toEqual(["payment.authorized"]);
    expect((await bank.hold(holdId)).status).toBe("held");
  });

  test("a batch: the forged event is ignored, the genuine one beside it applied", async () => {
    const forged = await authorizing();
    const genuine = await authorizing();
    const body = JSON.stringify({
      events: [
        JSON.parse(webhookBody("hold.captured", forged.row.id, forged.holdId)),
        JSON.parse(webhookBody("hold.authorized", genuine.row.id, genuine.holdId)),
      ],
    });
    const res = await h.webhook(body, signWebhook(WEBHOOK_SECRET, body, h.nowSeconds()));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ applied: 1, ignored: 1, events: 2 });
    await h.service.idle();
    expect((await h.payment(forged.row.id)).status).toBe("authorizing");
    expect((await bank.hold(forged.holdId)).status).toBe("held");
    expect((await h.payment(genuine.row.id)).status).not.toBe("authorizing");
  });
});

describe("claims the bank confirms are applied as the bank tells them", () => {
  test("a capture whose answer was lost: once the bank shows the hold captured, hold.captured is applied", async () => {
    const { row, holdId, amountMinor } = await capturing();
    // Our capture, under our key, went through this time, but payment never heard back.
    await bank.faults.update(NO_FAULTS);
    const captured = await bank.payment.bank.capture.post({ idempotencyKey: `${row.id}:capture`, holdId });
    expect(captured.status).toBe(200);
    await bank.faults.update({ ...NO_FAULTS, errorRate: 1 });

    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, holdId, { amountMinor })))).toBe(true);
    const after = await footprint(row.id);
    expect(after.status).toBe("captured");
    expect(after.events).toEqual(["payment.authorized", "payment.captured"]);
    // A later contradicting claim is stale: nothing moves backwards or sideways.
    expect(await applied(await h.webhook(webhookBody("hold.released", row.id, holdId, { amountMinor })))).toBe(false);
    expect(await footprint(row.id)).toEqual(after);
  });

  test("a release payment never asked for: applied once the bank shows it, and payment.released is emitted", async () => {
    const { row, holdId, amountMinor } = await capturing();
    const release = webhookBody("hold.released", row.id, holdId, { amountMinor });
    expect(await applied(await h.webhook(release))).toBe(false);
    // Someone else released the hold at the bank (an operator there, say).
    await bank.faults.update(NO_FAULTS);
    const released = await bank.payment.bank.release.post({ idempotencyKey: `outside:${row.id}`, holdId });
    expect(released.status).toBe(200);
    await bank.faults.update({ ...NO_FAULTS, errorRate: 1 });

    expect(await applied(await h.webhook(webhookBody("hold.released", row.id, holdId, { amountMinor })))).toBe(true);
    const after = await footprint(row.id);
    expect(after.status).toBe("released");
    expect(after.events).toEqual(["payment.authorized", "payment.released"]);
    expect(await applied(await h.webhook(webhookBody("hold.captured", row.id, holdId, { amountMinor })))).toBe(false);
    expect(await footprint(row.id)).toEqual(after);
  });

  test("hold.captured while still authorizing, the bank having captured: authorized then captured, once", async () => {
    const { row, holdId, amountMinor } = await authorizing();
    await bank.faults.update(NO_FAULTS);
    expect((await bank.payment.bank.capture.post({ idempotencyKey: `${row.id}:capture`, holdId })).status).toBe(200);
    await bank.faults.update({ ...NO_FAULTS, errorRate: 1 });
    const body = webhookBody("hold.captured", row.id, holdId, { amountMinor });
    const answers = await Promise.all([h.webhook(body).then(applied), h.webhook(body).then(applied)]);
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await footprint(row.id)).toMatchObject({
      status: "captured",
      holdId,
      history: ["authorizing", "authorized", "captured"],
      events: ["payment.authorized", "payment.captured"],
    });
  });
});
