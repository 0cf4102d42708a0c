// The per-socket frame budget, with time passed in: the burst, the refill, and the abuse meter
// that separates a client overshooting now and then from one that keeps flooding.
import { describe, expect, test } from "bun:test";
import { createFrameBudget } from "../src/domain/frame-budget";

const options = { perSecond: 20, burst: 40, abuseFactor: 3, abuseWindowSeconds: 3 };
const take = (budget: ReturnType<typeof createFrameBudget>, n: number, at: number) =>
  Array.from({ length: n }, () => budget.take(at));

describe("createFrameBudget", () => {
  test("a burst of 40 at once, then rate_limited until time refills the bucket (20 a second)", () => {
    const budget = createFrameBudget(options, 0);
    expect(take(budget, 40, 0).every((v) => v === "ok")).toBe(true);
    expect(budget.take(0)).toBe("rate_limited");
    expect(take(budget, 10, 500).every((v) => v === "ok")).toBe(true);
    expect(budget.take(500)).toBe("rate_limited");
  });

  test("sending at the allowed rate for a long time is never refused", () => {
    const budget = createFrameBudget(options, 0);
    for (let ms = 0; ms < 60_000; ms += 50) expect(budget.take(ms)).toBe("ok");
  });

  test("twice the rate for a minute: rate_limited frames, never abuse", () => {
    const budget = createFrameBudget(options, 0);
    const verdicts = new Set<string>();
    for (let ms = 0; ms < 60_000; ms += 25) verdicts.add(budget.take(ms));
    expect([...verdicts].sort()).toEqual(["ok", "rate_limited"]);
  });

  test("four times the rate is abuse within seconds; so is a flood of 3 s × 3 × the rate at once", () => {
    const steady = createFrameBudget(options, 0);
    let abusedAt = -1;
    for (let ms = 0; ms < 60_000 && abusedAt < 0; ms += 12.5) if (steady.take(ms) === "abuse") abusedAt = ms;
    expect(abusedAt).toBeGreaterThan(3_000);
    expect(abusedAt).toBeLessThan(20_000);
    const flood = createFrameBudget(options, 0);
    const verdicts = take(flood, 3 * 20 * 3 + 40 + 1, 0);
    expect(verdicts.at(-2)).toBe("rate_limited");
    expect(verdicts.at(-1)).toBe("abuse");
  });
});
