// Pure rules behind the batched totals consumer: which events of a batch can still matter, and
// that a batch's summed effects equal applying the same captures and refunds one by one.
import { describe, expect, test } from "bun:test";
import {
  applyBatch,
  applyCapture,
  applyRefund,
  type DonorChange,
  donorDeltas,
  planPledges,
  type Totals,
  type TotalsEffect,
  uniqueEvents,
} from "../src/domain";

const ev = (id: string, type: string, pledgeId: string) => ({ id, type, data: { pledgeId } });
const C = (id: string, pledgeId = "p1") => ev(id, "pledge.captured", pledgeId);
const R = (id: string, pledgeId = "p1") => ev(id, "pledge.refunded", pledgeId);

describe("uniqueEvents", () => {
  test("keeps the first occurrence of each event id, in order", () => {
    const a = C("a");
    const b = R("b");
    expect(uniqueEvents([a, b, C("a"), a, b, C("c")]).map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(uniqueEvents([])).toEqual([]);
  });
});

describe("planPledges: the events of a pledge that still matter", () => {
  const cases: Array<[string, ReturnType<typeof ev>[], { capture: string | null; refund: string | null }]> = [
    ["a capture alone inserts the donation", [C("c1")], { capture: "c1", refund: null }],
    ["a refund alone refunds (or leaves a tombstone)", [R("r1")], { capture: null, refund: "r1" }],
    ["a capture then its refund", [C("c1"), R("r1")], { capture: "c1", refund: "r1" }],
    ["a refund before its capture: the capture comes too late", [R("r1"), C("c1")], { capture: null, refund: "r1" }],
    [
      "only the first capture can insert the row; only the first refund can refund it",
      [C("c1"), C("c2"), R("r1"), C("c3"), R("r2")],
      { capture: "c1", refund: "r1" },
    ],
    ["captures under several event ids", [C("c1"), C("c2")], { capture: "c1", refund: null }],
    [
      "other event types change nothing",
      [ev("x", "pledge.authorized", "p1"), C("c1"), ev("y", "pledge.failed", "p1")],
      { capture: "c1", refund: null },
    ],
  ];
  for (const [name, events, expected] of cases) {
    test(name, () => {
      const plans = planPledges(events);
      expect(plans).toHaveLength(1);
      expect({ capture: plans[0]!.capture?.id ?? null, refund: plans[0]!.refund?.id ?? null }).toEqual(expected);
    });
  }

  test("one plan per pledge, sorted by pledge id, pledge ids compared case-insensitively", () => {
    const plans = planPledges([C("c1", "b"), R("r1", "A"), C("c2", "a"), ev("x", "pledge.failed", "c")]);
    expect(plans.map((p) => [p.pledgeId, p.capture?.id ?? null, p.refund?.id ?? null])).toEqual([
      ["a", null, "r1"],
      ["b", "c1", null],
    ]);
  });
});

describe("donorDeltas", () => {
  test("nets captures and refunds per (campaign, donor), keeps zero, sorts by campaign then donor", () => {
    const effects: TotalsEffect[] = [
      { type: "capture", campaignId: "c2", donorKey: "b", amountMinor: 1 },
      { type: "capture", campaignId: "c1", donorKey: "z", amountMinor: 1 },
      { type: "refund", campaignId: "c2", donorKey: "b", amountMinor: 1 },
      { type: "capture", campaignId: "c1", donorKey: "a", amountMinor: 1 },
      { type: "capture", campaignId: "c1", donorKey: "a", amountMinor: 1 },
      { type: "refund", campaignId: "c1", donorKey: "y", amountMinor: 1 },
    ];
    expect(donorDeltas(effects)).toEqual([
      { campaignId: "c1", donorKey: "a", delta: 2 },
      { campaignId: "c1", donorKey: "y", delta: -1 },
      { campaignId: "c1", donorKey: "z", delta: 1 },
      { campaignId: "c2", donorKey: "b", delta: 0 },
    ]);
  });
});

describe("applyBatch equals applying the same captures and refunds one by one", () => {
  /** The reference: today's one-event-at-a-time rules, with each donor's counter moving by one. */
  function oneByOne(start: Totals, counters: Record<string, number>, effects: TotalsEffect[]) {
    const c = { ...counters };
    let t = start;
    for (const e of effects) {
      const before = c[e.donorKey] ?? 0;
      const after = before + (e.type === "capture" ? 1 : -1);
      c[e.donorKey] = after;
      t =
        e.type === "capture"
          ? applyCapture(t, e.amountMinor, { before, after })
          : applyRefund(t, e.amountMinor, { before, after });
    }
    return t;
  }

  /** The batch: net deltas per donor, the counters' before/after for the whole batch, one apply. */
  function batched(start: Totals, counters: Record<string, number>, effects: TotalsEffect[]) {
    const donors: DonorChange[] = donorDeltas(effects).map((d) => {
      const before = counters[d.donorKey] ?? 0;
      return { before, after: before + d.delta };
    });
    return applyBatch(start, effects, donors);
  }

  const cap = (donorKey: string, amountMinor: number): TotalsEffect => ({
    type: "capture",
    campaignId: "c",
    donorKey,
    amountMinor,
  });
  const ref = (donorKey: string, amountMinor: number): TotalsEffect => ({
    ...cap(donorKey, amountMinor),
    type: "refund",
  });

  const cases: Array<[string, Totals, Record<string, number>, TotalsEffect[], Totals]> = [
    [
      "an empty batch changes nothing",
      { raisedMinor: 5, donorCount: 1, pledgeCount: 1 },
      { a: 1 },
      [],
      { raisedMinor: 5, donorCount: 1, pledgeCount: 1 },
    ],
    [
      "two captures by one new donor add one donor",
      { raisedMinor: 0, donorCount: 0, pledgeCount: 0 },
      {},
      [cap("a", 500), cap("a", 300)],
      { raisedMinor: 800, donorCount: 1, pledgeCount: 2 },
    ],
    [
      "a capture and its refund in one batch net to nothing",
      { raisedMinor: 100, donorCount: 1, pledgeCount: 1 },
      { b: 1 },
      [cap("a", 700), ref("a", 700)],
      { raisedMinor: 100, donorCount: 1, pledgeCount: 1 },
    ],
    [
      "refunding a donor's only pledge drops the donor; refunding one of two keeps them",
      { raisedMinor: 1000, donorCount: 2, pledgeCount: 3 },
      { a: 1, b: 2 },
      [ref("a", 200), ref("b", 300)],
      { raisedMinor: 500, donorCount: 1, pledgeCount: 1 },
    ],
    [
      "a donor who leaves and comes back within the batch still counts once",
      { raisedMinor: 200, donorCount: 1, pledgeCount: 1 },
      { a: 1 },
      [ref("a", 200), cap("a", 900)],
      { raisedMinor: 900, donorCount: 1, pledgeCount: 1 },
    ],
  ];
  for (const [name, start, counters, effects, expected] of cases) {
    test(name, () => {
      expect(oneByOne(start, counters, effects)).toEqual(expected);
      expect(batched(start, counters, effects)).toEqual(expected);
    });
  }

  test("for any order of the same effects (seeded random batches)", () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 500; round++) {
      const counters: Record<string, number> = {};
      const live: Array<{ donorKey: string; amountMinor: number }> = [];
      for (const donorKey of ["a", "b", "c", "d"]) {
        counters[donorKey] = Math.floor(rnd() * 3);
        for (let i = 0; i < counters[donorKey]!; i++)
          live.push({ donorKey, amountMinor: 100 + Math.floor(rnd() * 900) });
      }
      const start: Totals = {
        raisedMinor: live.reduce((s, p) => s + p.amountMinor, 0),
        pledgeCount: live.length,
        donorCount: Object.values(counters).filter((n) => n > 0).length,
      };
      // Refunds only of pledges that are live at that point, as the donation rows guarantee.
      const effects: TotalsEffect[] = [];
      for (let i = Math.floor(rnd() * 12); i > 0; i--) {
        if (live.length > 0 && rnd() < 0.4) {
          const [p] = live.splice(Math.floor(rnd() * live.length), 1);
          effects.push(ref(p!.donorKey, p!.amountMinor));
        } else {
          const p = { donorKey: "abcd"[Math.floor(rnd() * 4)]!, amountMinor: 100 + Math.floor(rnd() * 900) };
          live.push(p);
          effects.push(cap(p.donorKey, p.amountMinor));
        }
      }
      expect(batched(start, counters, effects)).toEqual(oneByOne(start, counters, effects));
    }
  });
});
