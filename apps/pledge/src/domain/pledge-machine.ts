// The pledge state machine as a pure function (state, event) → decision. Forward only: a late or
// duplicate event never moves a pledge backwards, and an event that implies steps not yet seen
// (payment.captured while pending) applies the missing steps in order, once (DESIGN "State machines").

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

export type PaymentEventType =
  | "payment.authorized"
  | "payment.captured"
  | "payment.failed"
  | "payment.released"
  | "payment.expired"
  | "payment.refunded";

export const PAYMENT_EVENT_TYPES: readonly PaymentEventType[] = [
  "payment.authorized",
  "payment.captured",
  "payment.failed",
  "payment.released",
  "payment.expired",
  "payment.refunded",
];

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
 * implies authorized and captured, expired implies authorized; failed implies nothing.
 * payment.released has no pledge status: it follows a cancel (already applied) and is ignored.
 */
const PAYMENT_PATHS: Record<PaymentEventType, readonly PledgeStatus[] | null> = {
  "payment.authorized": ["pending", "authorized"],
  "payment.captured": ["pending", "authorized", "captured"],
  "payment.failed": ["pending", "failed"],
  "payment.released": null,
  "payment.expired": ["pending", "authorized", "expired"],
  "payment.refunded": ["pending", "authorized", "captured", "refunded"],
};

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
      if (!path) return { kind: "ignored", state, why: `${event.type} does not change a pledge` };
      const at = path.indexOf(state);
      // Not on this event's path (a cancelled pledge, a later or sibling state) or already at its end.
      if (at === -1) return { kind: "ignored", state, why: `${event.type} is stale for a ${state} pledge` };
      if (at === path.length - 1) return { kind: "ignored", state, why: `already ${state}` };
      const steps = path.slice(at + 1);
      const reason = event.type === "payment.failed" ? event.reason || UNKNOWN_FAILURE : null;
      return transition(state, steps, reason);
    }
  }
}

/** True when `to` is a direct forward edge from `from` (used by tests to check every applied step). */
export const isEdge = (from: PledgeStatus, to: PledgeStatus) => NEXT[from].includes(to);
