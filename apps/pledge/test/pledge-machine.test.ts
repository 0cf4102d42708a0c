// The pledge state machine, exhaustively: every state × every payment event and command, with
// the expected decision written out as a table, plus the properties that hold for all of them
// (forward only, each step a real edge, terminal states never move, captured-before-authorized once).
import { describe, expect, test } from "bun:test";
import {
  type Decision,
  decide,
  isEdge,
  isTerminal,
  PAYMENT_EVENT_TYPES,
  PLEDGE_STATUSES,
  type PledgeMachineEvent,
  type PledgeStatus,
  RELEASED_REASON,
  TERMINAL_STATUSES,
  UNKNOWN_FAILURE,
} from "../src/domain";

type EventName = PledgeMachineEvent["type"];
const EVENTS: EventName[] = [...PAYMENT_EVENT_TYPES, "cancel", "refund-request"];

/** Expected outcome: the steps taken, "ignored" (payment events), "rejected" (commands) or "accepted". */
type Expect = PledgeStatus[] | "ignored" | "rejected" | "accepted";

const TABLE: Record<PledgeStatus, Record<EventName, Expect>> = {
  pending: {
    "payment.authorized": ["authorized"],
    "payment.captured": ["authorized", "captured"],
    "payment.failed": ["failed"],
    "payment.released": ["authorized", "cancelled"],
    "payment.expired": ["authorized", "expired"],
    "payment.refunded": ["authorized", "captured", "refunded"],
    cancel: ["cancelled"],
    "refund-request": "rejected",
  },
  authorized: {
    "payment.authorized": "ignored",
    "payment.captured": ["captured"],
    "payment.failed": "ignored",
    "payment.released": ["cancelled"],
    "payment.expired": ["expired"],
    "payment.refunded": ["captured", "refunded"],
    cancel: ["cancelled"],
    "refund-request": "rejected",
  },
  captured: {
    "payment.authorized": "ignored",
    "payment.captured": "ignored",
    "payment.failed": "ignored",
    "payment.released": "ignored",
    "payment.expired": "ignored",
    "payment.refunded": ["refunded"],
    cancel: "rejected",
    "refund-request": "accepted",
  },
  failed: {
    "payment.authorized": "ignored",
    "payment.captured": "ignored",
    "payment.failed": "ignored",
    "payment.released": "ignored",
    "payment.expired": "ignored",
    "payment.refunded": "ignored",
    cancel: "rejected",
    "refund-request": "rejected",
  },
  cancelled: {
    "payment.authorized": "ignored",
    "payment.captured": "ignored",
    "payment.failed": "ignored",
    "payment.released": "ignored",
    "payment.expired": "ignored",
    "payment.refunded": "ignored",
    cancel: "rejected",
    "refund-request": "rejected",
  },
  expired: {
    "payment.authorized": "ignored",
    "payment.captured": "ignored",
    "payment.failed": "ignored",
    "payment.released": "ignored",
    "payment.expired": "ignored",
    "payment.refunded": "ignored",
    cancel: "rejected",
    "refund-request": "rejected",
  },
  refunded: {
    "payment.authorized": "ignored",
    "payment.captured": "ignored",
    "payment.failed": "ignored",
    "payment.released": "ignored",
    "payment.expired": "ignored",
    "payment.refunded": "ignored",
    cancel: "rejected",
    "refund-request": "rejected",
  },
};

const eventOf = (type: EventName, reason: string | null = null): PledgeMachineEvent =>
  type === "cancel" || type === "refund-request" ? { type } : { type, reason };

function summary(d: Decision): Expect {
  return d.kind === "transition" ? d.steps : d.kind;
}

const CASES = PLEDGE_STATUSES.flatMap((state) => EVENTS.map((event) => [state, event, TABLE[state][event]] as const));

describe("every state × every event", () => {
  test("the table covers all 7 states × 8 events", () => {
    expect(CASES).toHaveLength(56);
  });

  test.each(CASES)("%s + %s → %p", (state, event, expected) => {
    const decision = decide(state, eventOf(event));
    expect(summary(decision)).toEqual(expected);
    if (decision.kind === "transition") {
      expect(decision.state).toBe(decision.steps.at(-1)!);
    } else {
      // Nothing that is not a transition moves the pledge.
      expect(decision.state).toBe(state);
    }
  });
});

describe("properties over the whole table", () => {
  test.each(CASES)("%s + %s: every step is a forward edge, no status repeats", (state, event) => {
    const decision = decide(state, eventOf(event));
    if (decision.kind !== "transition") return expect(decision.kind).not.toBe("transition");
    let from = state;
    for (const step of decision.steps) {
      expect(isEdge(from, step)).toBe(true);
      from = step;
    }
    expect(new Set([state, ...decision.steps]).size).toBe(decision.steps.length + 1);
  });

  test.each(TERMINAL_STATUSES.map((s) => [s]))("%s is terminal: no event or command moves it", (state) => {
    expect(isTerminal(state)).toBe(true);
    for (const event of EVENTS) expect(decide(state, eventOf(event)).kind).not.toBe("transition");
  });

  test("payment events are never refused, only ignored; commands are never ignored, only refused", () => {
    for (const [state, event] of CASES) {
      const kind = decide(state, eventOf(event)).kind;
      if (event === "cancel" || event === "refund-request") expect(kind).not.toBe("ignored");
      else expect(kind).not.toBe("rejected");
    }
  });

  test("applying an event twice changes nothing the second time (duplicates are stale)", () => {
    for (const [state, event] of CASES) {
      if (event === "cancel" || event === "refund-request") continue;
      const first = decide(state, eventOf(event));
      if (first.kind !== "transition") continue;
      expect(decide(first.state, eventOf(event)).kind).toBe("ignored");
    }
  });
});

describe("details", () => {
  test("payment.failed carries its reason into failureReason; other transitions (but a release) carry none", () => {
    const failed = decide("pending", { type: "payment.failed", reason: "insufficient_funds" });
    expect(failed).toEqual({
      kind: "transition",
      state: "failed",
      steps: ["failed"],
      failureReason: "insufficient_funds",
    });
    expect(decide("pending", { type: "payment.failed", reason: null })).toMatchObject({
      failureReason: UNKNOWN_FAILURE,
    });
    expect(decide("pending", { type: "payment.captured", reason: "ignored" })).toMatchObject({ failureReason: null });
  });

  test("payment.released ends the pledge cancelled, saying the payment was released (the donor did not cancel)", () => {
    expect(decide("authorized", { type: "payment.released", reason: null })).toEqual({
      kind: "transition",
      state: "cancelled",
      steps: ["cancelled"],
      failureReason: RELEASED_REASON,
    });
    // A release that follows the donor's own cancel finds the pledge cancelled already.
    expect(decide("cancelled", { type: "payment.released" }).kind).toBe("ignored");
  });

  test("every payment event ends a pending pledge terminal, or takes it a defined step forward", () => {
    for (const type of PAYMENT_EVENT_TYPES) {
      const d = decide("pending", { type });
      expect(d.kind).toBe("transition");
      expect(isTerminal(d.state) || d.state === "authorized" || d.state === "captured").toBe(true);
    }
  });

  test("captured before authorized: both steps, in order, once", () => {
    const d = decide("pending", { type: "payment.captured" });
    expect(d).toEqual({
      kind: "transition",
      state: "captured",
      steps: ["authorized", "captured"],
      failureReason: null,
    });
    // The authorized event that arrives afterwards is stale.
    expect(decide("captured", { type: "payment.authorized" }).kind).toBe("ignored");
  });

  test("a cancelled pledge ignores the payment events that raced the cancel", () => {
    for (const type of PAYMENT_EVENT_TYPES) expect(decide("cancelled", { type }).kind).toBe("ignored");
  });

  test("rejections say why", () => {
    expect(decide("captured", { type: "cancel" })).toMatchObject({
      kind: "rejected",
      why: expect.stringContaining("captured"),
    });
    expect(decide("pending", { type: "refund-request" })).toMatchObject({ kind: "rejected" });
  });
});
