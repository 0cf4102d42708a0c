// Nothing strands a pledge (DESIGN invariant 7): every payment event type the events lib defines
// has a pledge mapping, and every payment outcome ends its pledge terminal (captured: the settled
// state a refund may still follow). Three ways: the events lib's own list driven through the real
// consumer against PostgreSQL from every live pledge state; every payment status mapped to the event
// announcing it; and the two machines run together over every reachable path (bank outcomes in any
// order, the donor's cancel, an operator's release, an admin's refund), each payment end checked
// against where its pledge ends, whatever order the pledge hears the payment's events in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PaymentChangeType } from "@careforall/events";
import * as events from "@careforall/events";
import { type PaymentStatus, transition } from "@careforall/payment";
import { asc, eq } from "drizzle-orm";
import { pledgeHistory, pledges } from "../src/db/schema";
import {
  decide,
  isEdge,
  isTerminal,
  PAYMENT_EVENT_TYPES,
  type PledgeStatus,
  RELEASED_REASON,
  UNKNOWN_FAILURE,
} from "../src/domain";
import { type PledgeTestApp, startPledgeTestApp, user } from "./support";

/**
 * Every payment change event the events lib defines (a payment.* event carrying PaymentChange), read
 * from its exports: a new one is found here. Payment's operational events (the webhook signature
 * alarm) carry other payloads and are not state changes of a payment.
 */
const LIB_PAYMENT_TYPES = (Object.values(events) as unknown[])
  .flatMap((v) =>
    typeof v === "object" &&
    v !== null &&
    "type" in v &&
    "schema" in v &&
    typeof v.type === "string" &&
    v.schema === events.PaymentChange
      ? [v.type]
      : [],
  )
  .filter((type) => type.startsWith("payment."))
  .sort();

/** Where each payment event takes a pledge from each state it can still leave (steps after the start). */
const EXPECTED: Record<PaymentChangeType, Record<"pending" | "authorized" | "captured", PledgeStatus[]>> = {
  "payment.authorized": { pending: ["authorized"], authorized: [], captured: [] },
  "payment.captured": { pending: ["authorized", "captured"], authorized: ["captured"], captured: [] },
  "payment.failed": { pending: ["failed"], authorized: [], captured: [] },
  // The hold was let go without the donor asking (an operator's release, the bank's own): no money
  // moved, so the pledge ends cancelled, with the reason saying why (see pledge-machine.ts).
  "payment.released": { pending: ["authorized", "cancelled"], authorized: ["cancelled"], captured: [] },
  "payment.expired": { pending: ["authorized", "expired"], authorized: ["expired"], captured: [] },
  "payment.refunded": {
    pending: ["authorized", "captured", "refunded"],
    authorized: ["captured", "refunded"],
    captured: ["refunded"],
  },
};

/** The statuses a pledge may rest in while its payment goes on: a step forward, never an end. */
const FORWARD_STEPS: readonly PledgeStatus[] = ["authorized", "captured"];

describe("every payment event type has a pledge mapping", () => {
  test("the events lib's payment.* types are exactly the ones the pledge machine maps", () => {
    expect(LIB_PAYMENT_TYPES.length).toBeGreaterThanOrEqual(6);
    expect([...PAYMENT_EVENT_TYPES].sort() as string[]).toEqual(LIB_PAYMENT_TYPES);
    expect(Object.keys(EXPECTED).sort()).toEqual(LIB_PAYMENT_TYPES);
  });

  test.each(LIB_PAYMENT_TYPES)("%s from pending ends terminal or one defined step forward", (type) => {
    const d = decide("pending", { type: type as PaymentChangeType });
    expect(d.kind).toBe("transition");
    expect(isTerminal(d.state) || FORWARD_STEPS.includes(d.state)).toBe(true);
  });
});

describe("every payment status, through the event that announces it", () => {
  /** The event a payment emits on entering each status; null for the in-flight ones it waits in. */
  const ANNOUNCED: Record<PaymentStatus, PaymentChangeType | null> = {
    authorizing: null,
    authorized: "payment.authorized",
    capturing: null,
    captured: "payment.captured",
    refunding: null,
    refunded: "payment.refunded",
    failed: "payment.failed",
    released: "payment.released",
    expired: "payment.expired",
  };
  /** Where a pending pledge ends when its payment ends in that status. */
  const PLEDGE_END: Partial<Record<PaymentStatus, PledgeStatus>> = {
    captured: "captured",
    refunded: "refunded",
    failed: "failed",
    released: "cancelled",
    expired: "expired",
  };
  test.each(Object.entries(PLEDGE_END))("a payment ending %s ends its pledge %s", (status, end) => {
    const type = ANNOUNCED[status as PaymentStatus]!;
    const d = decide("pending", { type });
    expect(d.state).toBe(end!);
    expect(isTerminal(d.state) || d.state === "captured").toBe(true);
  });
  test("the in-flight statuses announce nothing (the pledge waits for the outcome that follows)", () => {
    const silent = Object.entries(ANNOUNCED).filter(([, type]) => type === null);
    expect(silent.map(([status]) => status).sort()).toEqual(["authorizing", "capturing", "refunding"]);
  });
});

describe("through the real consumer (PostgreSQL): every event type × every state a pledge can leave", () => {
  let h: PledgeTestApp;
  let campaignId: string;
  const donor = user("outcomes-donor");

  beforeAll(async () => {
    h = await startPledgeTestApp();
    campaignId = (await h.campaign()).id;
    h.withAccount(donor);
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function pledgeIn(start: "pending" | "authorized" | "captured") {
    const p = await h.createPledge(donor, campaignId);
    if (start === "authorized") expect(await h.payment("payment.authorized", p)).toBe("applied");
    if (start === "captured") expect(await h.payment("payment.captured", p)).toBe("applied");
    return p;
  }
  async function state(id: string) {
    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, id));
    const history = await h.db
      .select()
      .from(pledgeHistory)
      .where(eq(pledgeHistory.pledgeId, id))
      .orderBy(asc(pledgeHistory.seq));
    return { row: row!, history: history.map((r) => r.status) };
  }

  const CASES = LIB_PAYMENT_TYPES.flatMap((type) =>
    (["pending", "authorized", "captured"] as const).map((start) => [type, start] as const),
  );

  test.each(CASES)("%s on a %s pledge", async (type, start) => {
    const p = await pledgeIn(start);
    const before = await state(p.id);
    const emitted = (await h.eventsFor(p.id)).length;
    const outcome = await h.payment(type, p, type === "payment.failed" ? { reason: "declined" } : {});
    const steps = EXPECTED[type as PaymentChangeType][start];
    expect(outcome).toBe(steps.length > 0 ? "applied" : "ignored");
    const after = await state(p.id);
    const end = steps.at(-1) ?? start;
    expect(after.row.status).toBe(end);
    expect(isTerminal(end) || FORWARD_STEPS.includes(end)).toBe(true);
    expect(after.history).toEqual([...before.history, ...steps]);
    // One pledge.<status> event per step, each a real edge.
    const changes = (await h.eventsFor(p.id)).slice(emitted).map((e) => e.type);
    expect(changes).toEqual(steps.map((s) => `pledge.${s}`));
    let from: PledgeStatus = start;
    for (const s of steps) {
      expect(isEdge(from, s)).toBe(true);
      from = s;
    }
    if (type === "payment.failed" && start === "pending") expect(after.row.failureReason).toBe("declined");
    if (type === "payment.released" && steps.length > 0) expect(after.row.failureReason).toBe(RELEASED_REASON);
  });
});

// ── The two machines together ───────────────────────────────────────────────────────────────

type PaymentState = Parameters<typeof transition>[0];
type PaymentEvent = Parameters<typeof transition>[1];

/** One of each payment machine event (a Record, so a new event type fails to type-check here). */
const PAYMENT_MACHINE_EVENTS: Record<PaymentEvent["type"], PaymentEvent> = {
  authorized: { type: "authorized", holdId: "hold_1" },
  authorize_failed: { type: "authorize_failed", reason: "declined" },
  capture_started: { type: "capture_started" },
  captured: { type: "captured", holdId: "hold_1", transferId: "tr_1" },
  released: { type: "released" },
  expired: { type: "expired" },
  refund_started: { type: "refund_started" },
  refunded: { type: "refunded", transferId: "tr_2" },
  cancel_requested: { type: "cancel_requested" },
  // An operator's release (POST /payments/release): the pledge learns of it only by payment.released.
  release_requested: { type: "release_requested" },
  refund_requested: { type: "refund_requested" },
};

/** A payment that waits on nothing more (payment-machine.ts nextAction is null). */
const paymentDone = (p: PaymentState) =>
  ["failed", "released", "expired", "refunded"].includes(p.status) ||
  (p.status === "captured" && !p.cancelRequested && !p.refundRequested);

/** Where a pledge may end for each payment end (cancelled: the donor cancelled first). */
const CONSISTENT: Partial<Record<PaymentStatus, PledgeStatus[]>> = {
  captured: ["captured"],
  refunded: ["refunded", "cancelled"],
  failed: ["failed", "cancelled"],
  released: ["cancelled"],
  expired: ["expired", "cancelled"],
};

interface Node {
  payment: PaymentState;
  pledge: PledgeStatus;
  /** payment.* events emitted so far, in order. */
  emitted: PaymentChangeType[];
  donorCancelled: boolean;
}

/** The pledge after hearing `events` in this order, from pending. */
function hear(events: PaymentChangeType[], from: PledgeStatus = "pending"): PledgeStatus {
  return events.reduce<PledgeStatus>((s, type) => decide(s, { type, reason: null }).state, from);
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** Every node reachable from a new payment and its pending pledge, one step at a time. */
function explore(): Node[] {
  const start: Node = {
    payment: {
      status: "authorizing",
      holdId: null,
      captureTransferId: null,
      refundTransferId: null,
      failureReason: null,
      cancelRequested: false,
      refundRequested: false,
    },
    pledge: "pending",
    emitted: [],
    donorCancelled: false,
  };
  const key = (n: Node) =>
    JSON.stringify([n.payment.status, n.payment.cancelRequested, n.payment.refundRequested, n.pledge, n.emitted]);
  const seen = new Map<string, Node>([[key(start), start]]);
  const queue = [start];
  const paymentStep = (n: Node, event: PaymentEvent, pledge = n.pledge, donorCancelled = n.donorCancelled) => {
    const d = transition(n.payment, event);
    if (!d.ok) return null;
    const emitted = d.effects.flatMap((e) => (e.type === "emit" ? [e.event] : []));
    return {
      payment: d.state,
      pledge: hear(emitted, pledge),
      emitted: [...n.emitted, ...emitted],
      donorCancelled,
    };
  };
  while (queue.length > 0) {
    const n = queue.shift()!;
    const next: Array<Node | null> = Object.values(PAYMENT_MACHINE_EVENTS)
      // The pledge's own commands reach payment as requests only through the pledge (below).
      .filter((e) => e.type !== "cancel_requested" && e.type !== "refund_requested")
      .map((e) => paymentStep(n, e));
    // The donor cancels: the pledge moves at once, payment hears pledge.cancelled.
    if (decide(n.pledge, { type: "cancel" }).kind === "transition")
      next.push(paymentStep(n, PAYMENT_MACHINE_EVENTS.cancel_requested, "cancelled", true));
    // An admin asks for a refund of a captured pledge.
    if (decide(n.pledge, { type: "refund-request" }).kind === "accepted")
      next.push(paymentStep(n, PAYMENT_MACHINE_EVENTS.refund_requested));
    for (const m of next) {
      if (!m || seen.has(key(m))) continue;
      seen.set(key(m), m);
      queue.push(m);
    }
  }
  return [...seen.values()];
}

describe("the payment and pledge machines together: every reachable path", () => {
  const nodes = explore();
  const ends = nodes.filter((n) => paymentDone(n.payment));

  test("the exploration reaches every payment end", () => {
    expect(nodes.length).toBeGreaterThan(20);
    // Among them the races that matter: an operator's release, and a capture that beat the donor's cancel.
    const seen = (status: PaymentStatus, pledge: PledgeStatus, donorCancelled: boolean) =>
      nodes.some((n) => n.payment.status === status && n.pledge === pledge && n.donorCancelled === donorCancelled);
    expect(seen("released", "cancelled", false)).toBe(true);
    expect(seen("refunded", "cancelled", true)).toBe(true);
    expect(new Set(ends.map((n) => n.payment.status))).toEqual(
      new Set<PaymentStatus>(["captured", "refunded", "failed", "released", "expired"]),
    );
  });

  test("wherever a payment ends, its pledge ends consistently: terminal, or captured with the money", () => {
    for (const n of ends) {
      const allowed = CONSISTENT[n.payment.status] ?? [];
      if (!allowed.includes(n.pledge)) throw new Error(`stranded: ${JSON.stringify(n)}`);
      expect(isTerminal(n.pledge) || n.pledge === "captured").toBe(true);
      // A pledge the donor cancelled never keeps the money.
      if (n.donorCancelled) expect(n.payment.status).not.toBe("captured");
    }
  });

  test("in whatever order the pledge hears a payment's events, it ends in the same place", () => {
    let checked = 0;
    for (const n of ends) {
      if (n.donorCancelled) continue;
      for (const order of permutations(n.emitted)) {
        expect(hear(order)).toBe(n.pledge);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(ends.length / 2);
  });

  test("a payment that failed without a reason still names one on its pledge", () => {
    expect(decide("pending", { type: "payment.failed", reason: null })).toMatchObject({
      failureReason: UNKNOWN_FAILURE,
    });
  });
});
