// The pure rules that decide what a signed webhook may change: whether it can be about its payment
// at all, what the bank's stored authorize answer makes of it, and what the bank's hold confirms —
// every claim × every hold status, written out as a table (a claim the hold does not show is null).
import { describe, expect, test } from "bun:test";
import {
  type BankWebhook,
  checkAgainstAuthorize,
  confirmedByHold,
  fitsPayment,
  type HoldFacts,
  type PaymentEventType,
  WEBHOOK_TYPES,
  type WebhookType,
} from "../src/domain";

const PAYMENT = { id: "pay_1", holdId: null, amountMinor: 2_500, currency: "BDT" };

function webhook(type: string, holdId: string | null = "hold_1", amountMinor = 2_500): BankWebhook {
  return {
    id: "evt_1",
    type,
    createdAt: new Date().toISOString(),
    data: { holdId, paymentRef: PAYMENT.id, amountMinor, currency: "BDT", reason: "declined" },
  };
}

function hold(status: HoldFacts["status"], overrides: Partial<HoldFacts & { paymentRef: string }> = {}) {
  return {
    id: "hold_1",
    status,
    capturedMinor: status === "captured" ? 2_500 : 0,
    refundedMinor: 0,
    paymentRef: PAYMENT.id,
    amountMinor: 2_500,
    currency: "BDT",
    ...overrides,
  };
}

const HOLD_STATUSES: HoldFacts["status"][] = ["held", "captured", "released", "expired"];

/** The machine event each claim comes to against each hold status; null: not confirmed. */
const TABLE: Record<WebhookType, Record<HoldFacts["status"], PaymentEventType | null>> = {
  // Only says a hold was placed: what became of it since is the bank's to say.
  "hold.authorized": { held: "authorized", captured: "captured", released: "released", expired: "expired" },
  "hold.captured": { held: null, captured: "captured", released: null, expired: null },
  "hold.released": { held: null, captured: null, released: "released", expired: null },
  "hold.expired": { held: null, captured: null, released: null, expired: "expired" },
  // A failure is the authorize answer's to confirm, never a hold's.
  "hold.failed": { held: null, captured: null, released: null, expired: null },
};

describe("confirmedByHold: every claim × every hold status", () => {
  const cases = WEBHOOK_TYPES.flatMap((type) => HOLD_STATUSES.map((status) => [type, status] as const));
  test("the table covers 5 claims × 4 statuses", () => expect(cases).toHaveLength(20));
  test.each(cases)("%s against a %s hold", (type, status) => {
    expect(confirmedByHold(webhook(type), hold(status), PAYMENT)?.type ?? null).toBe(TABLE[type][status]);
  });

  test("a captured hold refunded since is applied as refunded (the bank's account, not the webhook's)", () => {
    const refunded = hold("captured", { refundedMinor: 2_500 });
    expect(confirmedByHold(webhook("hold.captured"), refunded, PAYMENT)).toEqual({
      type: "refunded",
      transferId: null,
    });
  });

  test("a hold that is not this payment's confirms nothing (other payment, amount, currency or id)", () => {
    for (const other of [
      hold("captured", { paymentRef: "pay_2" }),
      { ...hold("captured"), amountMinor: 1 },
      { ...hold("captured"), currency: "USD" },
      hold("captured", { id: "hold_2" }),
    ])
      expect(confirmedByHold(webhook("hold.captured"), other, PAYMENT)).toBeNull();
  });

  test("an unknown claim confirms nothing", () => {
    expect(confirmedByHold(webhook("hold.teleported"), hold("captured"), PAYMENT)).toBeNull();
  });
});

describe("checkAgainstAuthorize: the bank's stored answer under the payment's key", () => {
  const held = { status: "held" as const, holdId: "hold_1", reason: null };
  const refused = { status: "failed" as const, holdId: null, reason: "insufficient_funds" };

  test("a refusal confirms hold.failed only, with the bank's reason (not the webhook's)", () => {
    expect(checkAgainstAuthorize(webhook("hold.failed", null), refused)).toEqual({
      kind: "apply",
      event: { type: "authorize_failed", reason: "insufficient_funds" },
    });
    for (const type of ["hold.authorized", "hold.captured", "hold.released", "hold.expired"])
      expect(checkAgainstAuthorize(webhook(type), refused)).toEqual({ kind: "refuted" });
  });

  test("a hold confirms hold.authorized of that hold; later claims go to the hold itself; hold.failed is refuted", () => {
    expect(checkAgainstAuthorize(webhook("hold.authorized"), held)).toEqual({
      kind: "apply",
      event: { type: "authorized", holdId: "hold_1" },
    });
    for (const type of ["hold.captured", "hold.released", "hold.expired"])
      expect(checkAgainstAuthorize(webhook(type), held)).toEqual({ kind: "read_hold", holdId: "hold_1" });
    expect(checkAgainstAuthorize(webhook("hold.failed", null), held)).toEqual({ kind: "refuted" });
    expect(checkAgainstAuthorize(webhook("hold.failed", "hold_1"), held)).toEqual({ kind: "refuted" });
  });

  test("a claim about another hold is refuted", () => {
    for (const type of WEBHOOK_TYPES)
      expect(checkAgainstAuthorize(webhook(type, "hold_made_up"), held)).toEqual({ kind: "refuted" });
  });
});

describe("fitsPayment", () => {
  test("amount and currency must be the payment's; once the hold is known, it must be that hold", () => {
    expect(fitsPayment(webhook("hold.captured"), PAYMENT)).toBe(true);
    expect(fitsPayment(webhook("hold.captured", "hold_1", 1), PAYMENT)).toBe(false);
    expect(fitsPayment({ ...webhook("hold.captured"), data: { ...webhook("x").data, currency: "USD" } }, PAYMENT)).toBe(
      false,
    );
    const known = { ...PAYMENT, holdId: "hold_1" };
    expect(fitsPayment(webhook("hold.captured"), known)).toBe(true);
    expect(fitsPayment(webhook("hold.captured", "hold_2"), known)).toBe(false);
    expect(fitsPayment(webhook("hold.failed", null), known)).toBe(false);
  });
});
