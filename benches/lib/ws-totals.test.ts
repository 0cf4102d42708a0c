// The ws-fanout scenario's reading of totals: which captures a total includes (a prefix in `at`
// order, or a prefix with one out-of-order capture swapped in), and the first time each capture
// was seen in a total — the delivery time the benchmark reports.
import { describe, expect, test } from "bun:test";
import { decoder, firstIncluding, type Includes } from "./ws-totals";

const BASE = 500;
const AMOUNTS = [1234, 2001, 3456, 1500, 4999];
const included = (f: Includes | null) => (f ? AMOUNTS.map((_, i) => f(i)) : null);

describe("decoder", () => {
  const decode = decoder(BASE, AMOUNTS);

  test("a total that is the base plus the first k captures includes exactly those", () => {
    expect(included(decode(BASE))).toEqual([false, false, false, false, false]);
    expect(included(decode(BASE + 1234 + 2001))).toEqual([true, true, false, false, false]);
    expect(included(decode(BASE + AMOUNTS.reduce((a, b) => a + b, 0)))).toEqual([true, true, true, true, true]);
  });

  test("a capture applied before an earlier one: the prefix with that one swapped in", () => {
    // The 2nd capture (2001) not applied yet, the 4th (1500) already: 500 + 1234 + 3456 + 1500.
    expect(included(decode(BASE + 1234 + 3456 + 1500))).toEqual([true, false, true, true, false]);
  });

  test("a total that no prefix or single swap explains is undecoded", () => {
    expect(decode(BASE + 1)).toBeNull();
  });
});

describe("firstIncluding", () => {
  test("each capture's time is the earliest total that includes it, NaN when none does", () => {
    const decode = decoder(BASE, AMOUNTS);
    const seen = new Map<number, number>([
      [BASE, 100],
      [BASE + 1234, 200],
      [BASE + 1234 + 2001 + 3456, 350],
      // Seen earlier than a smaller total (frames of two replicas can race): it still counts first.
      [BASE + 1234 + 2001, 400],
      [BASE + 1, 50],
    ]);
    const first = firstIncluding(seen, AMOUNTS.length, decode, new Map());
    expect([...first].slice(0, 3)).toEqual([200, 350, 350]);
    expect(Number.isNaN(first[3] as number)).toBe(true);
    expect(Number.isNaN(first[4] as number)).toBe(true);
  });
});
