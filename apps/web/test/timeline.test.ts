// The receipt's timeline: done / current / to come along pending → authorized → captured, and where
// a pledge left the happy path (with the steps it had reached), each with its time when known.
import { expect, test } from "bun:test";
import { timeline } from "../src/lib/timeline";

const h = (...statuses: string[]) => statuses.map((status, i) => ({ status, at: `2026-01-01T00:00:0${i}Z` }));
const states = (p: Parameters<typeof timeline>[0]) => timeline(p).map((s) => `${s.status}:${s.state}`);

test("on the happy path: done, current, to come", () => {
  expect(states({ status: "pending", history: h("pending") })).toEqual([
    "pending:current",
    "authorized:todo",
    "captured:todo",
  ]);
  expect(states({ status: "authorized", history: h("pending", "authorized") })).toEqual([
    "pending:done",
    "authorized:current",
    "captured:todo",
  ]);
  expect(states({ status: "captured", history: h("pending", "authorized", "captured") })).toEqual([
    "pending:done",
    "authorized:done",
    "captured:done",
  ]);
  expect(timeline({ status: "authorized", history: h("pending", "authorized") })[1]?.at).toBe("2026-01-01T00:00:01Z");
});

test("off the happy path: the steps reached, then where it stopped", () => {
  expect(states({ status: "failed", history: h("pending", "failed") })).toEqual(["pending:done", "failed:stopped"]);
  expect(states({ status: "expired", history: h("pending", "authorized", "expired") })).toEqual([
    "pending:done",
    "authorized:done",
    "expired:stopped",
  ]);
  expect(states({ status: "refunded", history: h("pending", "authorized", "captured", "refunded") })).toEqual([
    "pending:done",
    "authorized:done",
    "captured:done",
    "refunded:done",
  ]);
  // A push may arrive before the history has it: the status alone still draws.
  expect(states({ status: "captured", history: h("pending") })).toEqual([
    "pending:done",
    "authorized:done",
    "captured:done",
  ]);
});
