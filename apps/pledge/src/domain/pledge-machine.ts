// The pledge state machine as a pure function (state, event) → decision. Forward only: a late or
// duplicate event never moves a pledge backwards, and an event that implies steps not yet seen
// (payment.captured while pending) applies the missing steps in order, once (DESIGN "State machines").
import type { PaymentChangeType } from "@careforall/events";

export type PledgeStatus = "pending" | "authorized" | "captured" | "failed" | "cancelled" | "expired" | "refunded";

export const PLEDGE_STATUSES: readonly PledgeStatus[] = [
  "pending",
  "authorized",
  "captured",
  "failed",
  "cancelled",
  "expired",
  "refunded",
];

/** No event or command moves a pledge out of these. */
export const TERMINAL_STATUSES: readonly PledgeStatus[] = ["failed", "cancelled", "expired", "refunded"];

export const isTerminal = (status: PledgeStatus) => TERMINAL_STATUSES.includes(status);

/** The payment events the pledge consumes: every payment.* type the events lib defines. */
export type PaymentEventType = PaymentChangeType;

export type PledgeMachineEvent =
  | { type: PaymentEventType; reason?: string | null }
  | { type: "cancel" }
  | { type: "refund-request" };

/** The forward edges. Everything not listed is refused (commands) or ignored as stale (payment events). */
const NEXT: Record<PledgeStatus, readonly PledgeStatus[]> = {
  pending: ["authorized", "failed", "cancelled"],
  authorized: ["captured", "cancelled", "expired"],
  captured: ["refunded"],
  failed: [],
  cancelled: [],
  expired: [],
  refunded: [],
};

/**
 * The status each payment event reports, and the path the payment must have taken to get there.
 * An event may only fill in steps along its own path: captured implies authorized, refunded
 * implies authorized and captured, expired and released imply authorized; failed implies nothing.
 * Every payment outcome has a path ending in a terminal status (captured: settled, only a refund
 * follows), so no payment outcome can strand a pledge (invariant 7); a Record, so a new payment
 * event type does not type-check until it has one.
 *
 * payment.released: the hold was let go and no money moved. After the donor's own cancel the pledge
 * is cancelled already and the event is stale. Otherwise someone else let it go (an operator's
 * POST /payments/release, the bank itself): the pledge can no longer be paid, so it ends
 * `cancelled` — the one terminal edge out of both pending and authorized that means "ended, nothing
 * charged" (failed is for a refused authorization, expired for a hold that ran out) — with
 * RELEASED_REASON saying the donor did not ask for it. Totals are unaffected: only captured and
 * refunded pledges count.
 */
const PAYMENT_PATHS: Record<PaymentEventType, readonly PledgeStatus[]> = {
  "payment.authorized": ["pending", "authorized"],
  "payment.captured": ["pending", "authorized", "captured"],
  "payment.failed": ["pending", "failed"],
  "payment.released": ["pending", "authorized", "cancelled"],
  "payment.expired": ["pending", "authorized", "expired"],
  "payment.refunded": ["pending", "authorized", "captured", "refunded"],
};

export const PAYMENT_EVENT_TYPES = Object.keys(PAYMENT_PATHS) as readonly PaymentEventType[];

export type Decision =
  /** Move to `state` through `steps` (each a new history entry and a pledge.<status> event). */
  | { kind: "transition"; state: PledgeStatus; steps: PledgeStatus[]; failureReason: string | null }
  /** Accepted without a status change (a refund request on a captured pledge). */
  | { kind: "accepted"; state: PledgeStatus }
  /** A payment event that is late, duplicate or irrelevant: change nothing. */
  | { kind: "ignored"; state: PledgeStatus; why: string }
  /** A command that is not allowed in this state (HTTP 409). */
  | { kind: "rejected"; state: PledgeStatus; why: string };

function transition(state: PledgeStatus, steps: PledgeStatus[], failureReason: string | null = null): Decision {
  return { kind: "transition", state: steps.at(-1) ?? state, steps, failureReason };
}

/** The failure reason a failed pledge shows when the payment gave none. */
export const UNKNOWN_FAILURE = "payment_failed";
/** The reason a pledge cancelled by its payment's release shows (the donor did not cancel it). */
export const RELEASED_REASON = "payment_released";

/** The reason a payment event's last step records on the pledge, if any. */
function reasonOf(event: { type: PaymentEventType; reason?: string | null }): string | null {
  if (event.type === "payment.failed") return event.reason || UNKNOWN_FAILURE;
  if (event.type === "payment.released") return RELEASED_REASON;
  return null;
}

export function decide(state: PledgeStatus, event: PledgeMachineEvent): Decision {
  switch (event.type) {
    case "cancel":
      return NEXT[state].includes("cancelled")
        ? transition(state, ["cancelled"])
        : { kind: "rejected", state, why: `A ${state} pledge cannot be cancelled` };
    case "refund-request":
      return state === "captured"
        ? { kind: "accepted", state }
        : { kind: "rejected", state, why: `Only a captured pledge can be refunded; this one is ${state}` };
    default: {
      const path = PAYMENT_PATHS[event.type];
      const at = path.indexOf(state);
      // Not on this event's path (a cancelled pledge, a later or sibling state) or already at its end.
      if (at === -1) return { kind: "ignored", state, why: `${event.type} is stale for a ${state} pledge` };
      if (at === path.length - 1) return { kind: "ignored", state, why: `already ${state}` };
      return transition(state, path.slice(at + 1), reasonOf(event));
    }
  }
}

/** True when `to` is a direct forward edge from `from` (used by tests to check every applied step). */
export const isEdge = (from: PledgeStatus, to: PledgeStatus) => NEXT[from].includes(to);
