// The payment state machine as one pure function: (state, event) → { state, effects } or a
// rejection. Forward only: a late event is "stale" and never moves a payment backwards; an event
// that implies steps not yet seen (captured while authorizing) applies them in order, once.
//
//   authorizing → authorized → capturing → captured → refunding → refunded
//   authorizing → failed;  authorized | capturing → released | expired
//   + cancelRequested: an authorize that completes after a cancel is released instead of
//     captured, and a capture that won the race is refunded (invariant 1: no net charge).
import type { PaymentChangeType } from "@careforall/events";

export const PAYMENT_STATUSES = [
  "authorizing",
  "authorized",
  "capturing",
  "captured",
  "refunding",
  "refunded",
  "failed",
  "released",
  "expired",
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** States that wait on a bank call; the reconciler converges them when they stay too long. */
export const IN_FLIGHT_STATUSES = ["authorizing", "authorized", "capturing", "refunding"] as const;
/** No further transition is possible (captured is final only while nobody asked for the money back). */
export const FINAL_STATUSES = ["refunded", "failed", "released", "expired"] as const;

/** The part of a payment the machine reads and writes. */
export interface PaymentState {
  status: PaymentStatus;
  holdId: string | null;
  captureTransferId: string | null;
  refundTransferId: string | null;
  failureReason: string | null;
  /** The pledge was cancelled (or an operator released it): never keep the money. */
  cancelRequested: boolean;
  /** An admin asked for the captured money back. */
  refundRequested: boolean;
}

/**
 * Bank outcomes (from a synchronous answer, a webhook or the reconciler alike), our own
 * decisions to start a bank call, and requests from other services or operators.
 */
export type PaymentEvent =
  | { type: "authorized"; holdId: string }
  | { type: "authorize_failed"; reason: string }
  | { type: "capture_started" }
  | { type: "captured"; holdId: string | null; transferId: string | null }
  | { type: "released" }
  | { type: "expired" }
  | { type: "refund_started" }
  | { type: "refunded"; transferId: string | null }
  | { type: "cancel_requested" }
  | { type: "release_requested" }
  | { type: "refund_requested" };
export type PaymentEventType = PaymentEvent["type"];

export const PAYMENT_EVENT_TYPES: readonly PaymentEventType[] = [
  "authorized",
  "authorize_failed",
  "capture_started",
  "captured",
  "released",
  "expired",
  "refund_started",
  "refunded",
  "cancel_requested",
  "release_requested",
  "refund_requested",
];

/** The bank call a payment in a given state needs next. */
export type BankAction = "authorize" | "capture" | "release" | "refund";

export type Effect =
  /** A status the payment passed through: one history row each, in order. */
  | { type: "enter"; status: PaymentStatus }
  /** An event to commit to the outbox with the change. */
  | { type: "emit"; event: PaymentChangeType }
  /** A bank call this transition made necessary, to run after the commit. */
  | { type: "bank"; action: BankAction };

export type Decision =
  | { ok: true; state: PaymentState; effects: Effect[] }
  /** stale: already applied or overtaken (never backwards); not_allowed: a request this state refuses. */
  | { ok: false; reason: "stale" | "not_allowed"; detail: string };

const stale = (state: PaymentState, event: PaymentEvent): Decision => ({
  ok: false,
  reason: "stale",
  detail: `${event.type} has no effect on a ${state.status} payment`,
});
const notAllowed = (state: PaymentState, event: PaymentEvent): Decision => ({
  ok: false,
  reason: "not_allowed",
  detail: `${event.type} is not allowed on a ${state.status} payment`,
});

/** What a payment needs from the bank now, or null when it waits for nothing. */
export function nextAction(state: Pick<PaymentState, "status" | "cancelRequested" | "refundRequested">) {
  switch (state.status) {
    case "authorizing":
      return "authorize";
    case "authorized":
      return state.cancelRequested ? "release" : "capture";
    case "capturing":
      return "capture";
    case "captured":
      return state.cancelRequested || state.refundRequested ? "refund" : null;
    case "refunding":
      return "refund";
    default:
      return null;
  }
}

/** Builds the decision for a run of status steps, ending with the follow-up bank call (if any). */
function advance(
  from: PaymentState,
  patch: Partial<PaymentState>,
  steps: Array<{ status: PaymentStatus; emit?: PaymentChangeType }>,
): Decision {
  const state: PaymentState = { ...from, ...patch };
  const effects: Effect[] = [];
  for (const step of steps) {
    state.status = step.status;
    effects.push({ type: "enter", status: step.status });
    if (step.emit) effects.push({ type: "emit", event: step.emit });
  }
  const action = nextAction(state);
  if (action && action !== "authorize") effects.push({ type: "bank", action });
  return { ok: true, state, effects };
}

/** Sets a request flag without a status change; the follow-up call (if any) becomes an effect. */
function flag(state: PaymentState, event: PaymentEvent, key: "cancelRequested" | "refundRequested"): Decision {
  if (state[key]) return stale(state, event);
  const next = { ...state, [key]: true };
  const effects: Effect[] = [];
  const before = nextAction(state);
  const after = nextAction(next);
  // Only a call this flag newly requires; an in-flight call sees the flag when it completes.
  if (after && after !== before && after !== "authorize") effects.push({ type: "bank", action: after });
  return { ok: true, state: next, effects };
}

const AUTHORIZED = { status: "authorized", emit: "payment.authorized" } as const;
const CAPTURED = { status: "captured", emit: "payment.captured" } as const;

export function transition(state: PaymentState, event: PaymentEvent): Decision {
  const s = state.status;
  switch (event.type) {
    case "authorized":
      if (s !== "authorizing") return stale(state, event);
      return advance(state, { holdId: event.holdId }, [AUTHORIZED]);

    case "authorize_failed":
      if (s !== "authorizing") return stale(state, event);
      return advance(state, { failureReason: event.reason }, [{ status: "failed", emit: "payment.failed" }]);

    case "capture_started":
      if (s === "authorized")
        return state.cancelRequested ? notAllowed(state, event) : advance(state, {}, [{ status: "capturing" }]);
      if (s === "capturing" || s === "captured" || s === "refunding" || s === "refunded") return stale(state, event);
      return notAllowed(state, event);

    case "captured": {
      const patch = {
        holdId: event.holdId ?? state.holdId,
        captureTransferId: event.transferId ?? state.captureTransferId,
      };
      if (s === "authorizing") return advance(state, patch, [AUTHORIZED, CAPTURED]);
      if (s === "authorized" || s === "capturing") return advance(state, patch, [CAPTURED]);
      return stale(state, event);
    }

    case "released":
    case "expired": {
      const end = event.type === "released" ? "released" : "expired";
      const last = { status: end, emit: `payment.${end}` } as const;
      if (s === "authorizing") return advance(state, {}, [AUTHORIZED, last]);
      if (s === "authorized" || s === "capturing") return advance(state, {}, [last]);
      return stale(state, event);
    }

    case "refund_started":
      if (s === "captured")
        return state.cancelRequested || state.refundRequested
          ? advance(state, {}, [{ status: "refunding" }])
          : notAllowed(state, event);
      if (s === "refunding" || s === "refunded") return stale(state, event);
      return notAllowed(state, event);

    case "refunded": {
      const patch = { refundTransferId: event.transferId ?? state.refundTransferId };
      const last = { status: "refunded", emit: "payment.refunded" } as const;
      if (s === "authorizing") return advance(state, patch, [AUTHORIZED, CAPTURED, last]);
      if (s === "authorized" || s === "capturing") return advance(state, patch, [CAPTURED, last]);
      if (s === "captured" || s === "refunding") return advance(state, patch, [last]);
      return stale(state, event);
    }

    case "cancel_requested":
      // Final states have nothing left to undo.
      if (s === "refunded" || s === "failed" || s === "released" || s === "expired") return stale(state, event);
      return flag(state, event, "cancelRequested");

    case "release_requested":
      // An operator release never turns into a refund: once capture started, refund instead.
      if (s === "authorizing" || s === "authorized") return flag(state, event, "cancelRequested");
      if (s === "released" || s === "failed" || s === "expired") return stale(state, event);
      return notAllowed(state, event);

    case "refund_requested":
      if (s === "refunded" || s === "failed" || s === "released" || s === "expired") return stale(state, event);
      return flag(state, event, "refundRequested");
  }
}

/** The statuses a decision passed through, for history rows. */
export const enteredStatuses = (effects: Effect[]): PaymentStatus[] =>
  effects.flatMap((e) => (e.type === "enter" ? [e.status] : []));
/** The outbox events a decision commits. */
export const emittedEvents = (effects: Effect[]): PaymentChangeType[] =>
  effects.flatMap((e) => (e.type === "emit" ? [e.event] : []));
/** The bank call a decision asks for after its commit, if any. */
export const followUp = (effects: Effect[]): BankAction | null =>
  effects.find((e): e is Extract<Effect, { type: "bank" }> => e.type === "bank")?.action ?? null;
