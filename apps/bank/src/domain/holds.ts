// The bank hold state machine (two-phase, like TigerBeetle's pending / post / void):
// held → captured | released | expired; a captured hold can be refunded up to what was captured.
// Pure: the service lets a conditional UPDATE decide each race and uses these rules to explain
// (and the tests to enumerate) every outcome.

export const HOLD_STATES = ["held", "captured", "released", "expired"] as const;
export type HoldState = (typeof HOLD_STATES)[number];
export const HOLD_OPERATIONS = ["capture", "release", "expire", "refund"] as const;
export type HoldOperation = (typeof HOLD_OPERATIONS)[number];

export type Transition = { ok: true; to: HoldState } | { ok: false; reason: "not_held" | "not_captured" };

export function transition(state: HoldState, operation: HoldOperation): Transition {
  switch (operation) {
    case "capture":
      return state === "held" ? { ok: true, to: "captured" } : { ok: false, reason: "not_held" };
    case "release":
      return state === "held" ? { ok: true, to: "released" } : { ok: false, reason: "not_held" };
    case "expire":
      return state === "held" ? { ok: true, to: "expired" } : { ok: false, reason: "not_held" };
    case "refund":
      // A refund leaves the hold captured; refundedMinor records how much went back.
      return state === "captured" ? { ok: true, to: "captured" } : { ok: false, reason: "not_captured" };
  }
}

export interface HoldFacts {
  status: HoldState;
  amountMinor: number;
  capturedMinor: number;
  refundedMinor: number;
  expiresAt: Date;
}

export type AmountDecision =
  | { ok: true; amountMinor: number }
  | { ok: false; reason: "not_held" | "not_captured" | "expired" | "over_amount" | "fully_refunded" };

/** Capture all of a hold (amount omitted) or part of it; the remainder goes back to the payer. */
export function decideCapture(hold: HoldFacts, requested: number | undefined, now: Date): AmountDecision {
  const t = transition(hold.status, "capture");
  if (!t.ok) return { ok: false, reason: t.reason };
  if (hold.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: "expired" };
  const amount = requested ?? hold.amountMinor;
  if (amount < 1 || amount > hold.amountMinor) return { ok: false, reason: "over_amount" };
  return { ok: true, amountMinor: amount };
}

/** Refund the rest of a capture (amount omitted) or part of it; never more than was captured. */
export function decideRefund(hold: HoldFacts, requested: number | undefined): AmountDecision {
  const t = transition(hold.status, "refund");
  if (!t.ok) return { ok: false, reason: t.reason };
  const remaining = hold.capturedMinor - hold.refundedMinor;
  if (requested === undefined) {
    return remaining > 0 ? { ok: true, amountMinor: remaining } : { ok: false, reason: "fully_refunded" };
  }
  if (requested < 1 || requested > remaining) return { ok: false, reason: "over_amount" };
  return { ok: true, amountMinor: requested };
}

/** Release (payer's decision) is allowed while held, even past the expiry the sweeper has not reached. */
export function decideRelease(hold: Pick<HoldFacts, "status">): { ok: true } | { ok: false; reason: "not_held" } {
  const t = transition(hold.status, "release");
  return t.ok ? { ok: true } : { ok: false, reason: "not_held" };
}

/** The sweeper expires holds still held at or after their expiry. */
export function isExpirable(hold: Pick<HoldFacts, "status" | "expiresAt">, now: Date): boolean {
  return transition(hold.status, "expire").ok && hold.expiresAt.getTime() <= now.getTime();
}
