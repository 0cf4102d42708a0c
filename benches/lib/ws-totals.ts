// How the ws-fanout scenario tells which donations a campaign total includes, and when a socket
// (or the HTTP poller) first saw each donation in a total. Pure: unit-tested beside it.

/** Whether the i-th capture (in `at` order) is included in a total. */
export type Includes = (i: number) => boolean;

/** Out-of-order captures tried when a total is not a prefix of the captures (see decoder). */
const SWAP_WINDOW = 8;

/**
 * Which captures a total includes. Captures sorted by their `at`; a total normally is a prefix of
 * them (P[k]); when two captures close together were applied out of `at` order it is a prefix
 * with one capture swapped for a later one. Amounts are distinct random numbers, so an accidental
 * match is unlikely; a total explained by neither is counted as undecoded (and includes nothing).
 */
export function decoder(baseMinor: number, amounts: readonly number[]): (value: number) => Includes | null {
  const prefix = [baseMinor];
  for (const a of amounts) prefix.push((prefix.at(-1) as number) + a);
  const byPrefix = new Map(prefix.map((p, k) => [p, k]));
  return (value) => {
    const k = byPrefix.get(value);
    if (k !== undefined) return (i) => i < k;
    for (let n = 1; n < prefix.length; n++) {
      const p = prefix[n] as number;
      for (let j = Math.max(0, n - SWAP_WINDOW); j < n; j++) {
        for (let m = n; m < Math.min(amounts.length, n + SWAP_WINDOW); m++) {
          if (p - (amounts[j] as number) + (amounts[m] as number) === value)
            return (i) => (i < n && i !== j) || i === m;
        }
      }
    }
    return null;
  };
}

/** For each capture (index), the earliest time among `seen` totals that include it; NaN if none. */
export function firstIncluding(
  seen: Map<number, number>,
  count: number,
  decode: (v: number) => Includes | null,
  cache: Map<number, Includes | null>,
): Float64Array {
  const out = new Float64Array(count).fill(Number.NaN);
  for (const [value, t] of seen) {
    let includes = cache.get(value);
    if (includes === undefined) {
      includes = decode(value);
      cache.set(value, includes);
    }
    if (!includes) continue;
    for (let i = 0; i < count; i++) {
      if (includes(i) && !((out[i] as number) <= t)) out[i] = t;
    }
  }
  return out;
}
