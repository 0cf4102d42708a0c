// The payment state machine, exhaustively: every state × every event (with and without the
// cancel/refund flags) against a written-down table, plus the properties that must hold for all
// of them — forward only, once only, and effects that agree with what the state needs next.
import { describe, expect, test } from "bun:test";
import {
  type BankAction,
  emittedEvents,
  enteredStatuses,
  followUp,
  nextAction,
  PAYMENT_EVENT_TYPES,
  PAYMENT_STATUSES,
  type PaymentEvent,
  type PaymentEventType,
  type PaymentState,
  type PaymentStatus,
  transition,
} from "../src/domain";

const HOLD = "hold_1";

function eventOf(type: PaymentEventType): PaymentEvent {
  switch (type) {
    case "authorized":
      return { type, holdId: HOLD };
    case "authorize_failed":
      return { type, reason: "declined" };
    case "captured":
      return { type, holdId: HOLD, transferId: "tr_capture" };
    case "refunded":
      return { type, transferId: "tr_refund" };
    default:
      return { type } as PaymentEvent;
  }
}

const state = (status: PaymentStatus, flags: Partial<PaymentState> = {}): PaymentState => ({
  status,
  holdId: status === "authorizing" || status === "failed" ? null : HOLD,
  captureTransferId: null,
  refundTransferId: null,
  failureReason: null,
  cancelRequested: false,
  refundRequested: false,
  ...flags,
});

/**
 * Expected outcome without flags. "a>b" lists the statuses entered, "+flag" a flag set without a
 * status change, "@action" the follow-up bank call; "stale" and "no" (not_allowed) are rejections.
 */
const TABLE: Record<PaymentStatus, Record<PaymentEventType, string>> = {
  authorizing: {
    authorized: "authorized@capture",
    authorize_failed: "failed",
    capture_started: "no",
    captured: "authorized>captured",
    released: "authorized>released",
    expired: "authorized>expired",
    refund_started: "no",
    refunded: "authorized>captured>refunded",
    cancel_requested: "+flag",
    release_requested: "+flag",
    refund_requested: "+flag",
  },
  authorized: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "capturing@capture",
    captured: "captured",
    released: "released",
    expired: "expired",
    refund_started: "no",
    refunded: "captured>refunded",
    cancel_requested: "+flag@release",
    release_requested: "+flag@release",
    refund_requested: "+flag",
  },
  capturing: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "stale",
    captured: "captured",
    released: "released",
    expired: "expired",
    refund_started: "no",
    refunded: "captured>refunded",
    cancel_requested: "+flag",
    release_requested: "no",
    refund_requested: "+flag",
  },
  captured: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "stale",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "no",
    refunded: "refunded",
    cancel_requested: "+flag@refund",
    release_requested: "no",
    refund_requested: "+flag@refund",
  },
  refunding: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "stale",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "stale",
    refunded: "refunded",
    cancel_requested: "+flag",
    release_requested: "no",
    refund_requested: "+flag",
  },
  refunded: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "stale",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "stale",
    refunded: "stale",
    cancel_requested: "stale",
    release_requested: "no",
    refund_requested: "stale",
  },
  failed: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "no",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "no",
    refunded: "stale",
    cancel_requested: "stale",
    release_requested: "stale",
    refund_requested: "stale",
  },
  released: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "no",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "no",
    refunded: "stale",
    cancel_requested: "stale",
    release_requested: "stale",
    refund_requested: "stale",
  },
  expired: {
    authorized: "stale",
    authorize_failed: "stale",
    capture_started: "no",
    captured: "stale",
    released: "stale",
    expired: "stale",
    refund_started: "no",
    refunded: "stale",
    cancel_requested: "stale",
    release_requested: "stale",
    refund_requested: "stale",
  },
};

/** Renders a decision in the table's notation. */
function render(from: PaymentState, event: PaymentEvent): string {
  const d = transition(from, event);
  if (!d.ok) return d.reason === "stale" ? "stale" : "no";
  const entered = enteredStatuses(d.effects);
  const action = followUp(d.effects);
  const head = entered.length > 0 ? entered.join(">") : "+flag";
  return action ? `${head}@${action}` : head;
}

const EMIT_FOR: Partial<Record<PaymentStatus, string>> = {
  authorized: "payment.authorized",
  captured: "payment.captured",
  failed: "payment.failed",
  released: "payment.released",
  expired: "payment.expired",
  refunded: "payment.refunded",
};

/** Every status step the machine may take (forward only). */
const EDGES = new Set([
  "authorizing>authorized",
  "authorizing>failed",
  "authorized>capturing",
  "authorized>captured",
  "authorized>released",
  "authorized>expired",
  "capturing>captured",
  "capturing>released",
  "capturing>expired",
  "captured>refunding",
  "captured>refunded",
  "refunding>refunded",
]);

const BANK_OUTCOMES: PaymentEventType[] = [
  "authorized",
  "authorize_failed",
  "captured",
  "released",
  "expired",
  "refunded",
];
const FLAG_COMBOS: Array<Partial<PaymentState>> = [
  {},
  { cancelRequested: true },
  { refundRequested: true },
  { cancelRequested: true, refundRequested: true },
];
const ALL = PAYMENT_STATUSES.flatMap((status) =>
  FLAG_COMBOS.flatMap((flags) => PAYMENT_EVENT_TYPES.map((type) => ({ status, flags, type }))),
);
const label = (c: { status: string; flags: Partial<PaymentState>; type: string }) =>
  `${c.status}${c.flags.cancelRequested ? "+cancel" : ""}${c.flags.refundRequested ? "+refund" : ""} × ${c.type}`;

describe("the table: every state × every event, no flags", () => {
  const cases = PAYMENT_STATUSES.flatMap((status) =>
    PAYMENT_EVENT_TYPES.map((type) => [status, type, TABLE[status][type]] as const),
  );
  test("covers all 9 states × 11 events", () => {
    expect(cases).toHaveLength(99);
  });
  test.each(cases)("%s × %s → %s", (status, type, expected) => {
    expect(render(state(status), eventOf(type))).toBe(expected);
  });
});

describe("with the cancel / refund flags", () => {
  test.each([
    // An authorize that completes after a cancel is released instead of captured.
    ["authorizing", { cancelRequested: true }, "authorized", "authorized@release"],
    // A capture that won the race against a cancel (or a refund request) is refunded.
    ["authorizing", { cancelRequested: true }, "captured", "authorized>captured@refund"],
    ["authorized", { cancelRequested: true }, "captured", "captured@refund"],
    ["capturing", { cancelRequested: true }, "captured", "captured@refund"],
    ["capturing", { refundRequested: true }, "captured", "captured@refund"],
    // Never capture a cancelled payment; refund only what someone asked back.
    ["authorized", { cancelRequested: true }, "capture_started", "no"],
    ["authorized", { refundRequested: true }, "capture_started", "capturing@capture"],
    ["captured", { cancelRequested: true }, "refund_started", "refunding@refund"],
    ["captured", { refundRequested: true }, "refund_started", "refunding@refund"],
    // Asking twice is a no-op.
    ["authorizing", { cancelRequested: true }, "cancel_requested", "stale"],
    ["authorized", { cancelRequested: true }, "release_requested", "stale"],
    ["captured", { refundRequested: true }, "refund_requested", "stale"],
    ["captured", { refundRequested: true }, "cancel_requested", "+flag"],
  ] as const)("%s %o × %s → %s", (status, flags, type, expected) => {
    expect(render(state(status, flags), eventOf(type))).toBe(expected);
  });
});

describe("properties of every decision (9 states × 4 flag sets × 11 events)", () => {
  test.each(ALL.map((c) => [label(c), c] as const))("%s", (_name, c) => {
    const from = state(c.status, c.flags);
    const d = transition(from, eventOf(c.type));
    if (!d.ok) {
      expect(["stale", "not_allowed"]).toContain(d.reason);
      expect(d.detail).toContain(c.type);
      return;
    }
    // Forward only: every step is an edge of the machine, starting where the payment was.
    let at = from.status;
    for (const status of enteredStatuses(d.effects)) {
      expect(EDGES.has(`${at}>${status}`)).toBe(true);
      at = status;
    }
    expect(d.state.status).toBe(at);
    // Each state entered that has an event emits it, in order, once.
    expect(emittedEvents(d.effects)).toEqual(
      enteredStatuses(d.effects).flatMap((s) => (EMIT_FOR[s] ? [EMIT_FOR[s]] : [])) as never,
    );
    // The follow-up call is exactly what the new state needs (and never a second authorize).
    const action = followUp(d.effects);
    if (action) expect(action).toBe(nextAction(d.state) as BankAction);
    expect(action).not.toBe("authorize");
    // Flags only ever go from false to true.
    if (from.cancelRequested) expect(d.state.cancelRequested).toBe(true);
    if (from.refundRequested) expect(d.state.refundRequested).toBe(true);
    // Once only: the same bank outcome applied again is stale.
    if (BANK_OUTCOMES.includes(c.type)) {
      const again = transition(d.state, eventOf(c.type));
      expect(again.ok).toBe(false);
    }
  });
});

describe("final states", () => {
  test.each(["refunded", "failed", "released", "expired"] as const)("%s accepts no event at all", (status) => {
    for (const flags of FLAG_COMBOS)
      for (const type of PAYMENT_EVENT_TYPES) expect(transition(state(status, flags), eventOf(type)).ok).toBe(false);
    expect(nextAction(state(status))).toBeNull();
  });
});

describe("out of order and stale", () => {
  test("captured before authorized: both steps applied once, the late authorized is stale", () => {
    const first = transition(state("authorizing"), { type: "captured", holdId: "h9", transferId: null });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(enteredStatuses(first.effects)).toEqual(["authorized", "captured"]);
    expect(emittedEvents(first.effects)).toEqual(["payment.authorized", "payment.captured"]);
    expect(first.state.holdId).toBe("h9");
    const late = transition(first.state, { type: "authorized", holdId: "h9" });
    expect(late).toMatchObject({ ok: false, reason: "stale" });
  });

  test("a late released or expired never undoes a capture", () => {
    for (const type of ["released", "expired", "authorize_failed"] as const) {
      expect(transition(state("captured"), eventOf(type))).toMatchObject({ ok: false, reason: "stale" });
      expect(transition(state("refunded"), eventOf(type))).toMatchObject({ ok: false, reason: "stale" });
    }
  });

  test("a failure keeps its reason; a capture keeps its hold and transfer", () => {
    const failed = transition(state("authorizing"), { type: "authorize_failed", reason: "insufficient_funds" });
    expect(failed.ok && failed.state).toMatchObject({ status: "failed", failureReason: "insufficient_funds" });
    const captured = transition(state("capturing"), { type: "captured", holdId: null, transferId: "tr_1" });
    expect(captured.ok && captured.state).toMatchObject({ holdId: HOLD, captureTransferId: "tr_1" });
  });

  test("nextAction: what each state waits for", () => {
    expect(PAYMENT_STATUSES.map((s) => [s, nextAction(state(s))])).toEqual([
      ["authorizing", "authorize"],
      ["authorized", "capture"],
      ["capturing", "capture"],
      ["captured", null],
      ["refunding", "refund"],
      ["refunded", null],
      ["failed", null],
      ["released", null],
      ["expired", null],
    ]);
    expect(nextAction(state("authorized", { cancelRequested: true }))).toBe("release");
    expect(nextAction(state("captured", { cancelRequested: true }))).toBe("refund");
    expect(nextAction(state("captured", { refundRequested: true }))).toBe("refund");
  });
});
