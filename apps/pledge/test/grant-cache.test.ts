import { describe, expect, test } from "bun:test";
import { cachingSourceVerifier, type GrantInput, type GrantOutcome, type SourceVerifier } from "../src/bank-client";

function countingBank(answer: (input: GrantInput) => GrantOutcome) {
  const calls: GrantInput[] = [];
  const verifier: SourceVerifier = {
    async grant(input) {
      calls.push(input);
      return answer(input);
    },
  };
  return { calls, verifier };
}

const day = 24 * 60 * 60 * 1000;

describe("cachingSourceVerifier", () => {
  test("reuses a grant for the same account and secret, asks again for another secret", async () => {
    let t = 1_000_000;
    const bank = countingBank((i) =>
      i.accountSecret === "right"
        ? { kind: "granted", grant: `g-${i.accountId}`, expiresAt: new Date(t + day).toISOString() }
        : { kind: "refused" },
    );
    const cached = cachingSourceVerifier(bank.verifier, { ttlMs: 60_000, now: () => t });
    const right = { accountId: "acct_1", accountSecret: "right" };
    expect(await cached.grant(right)).toMatchObject({ kind: "granted", grant: "g-acct_1" });
    expect(await cached.grant(right)).toMatchObject({ kind: "granted", grant: "g-acct_1" });
    expect(bank.calls).toHaveLength(1);
    // A wrong secret is never answered from the cache: the bank refuses it every time.
    expect(await cached.grant({ accountId: "acct_1", accountSecret: "wrong" })).toEqual({ kind: "refused" });
    expect(await cached.grant({ accountId: "acct_1", accountSecret: "wrong" })).toEqual({ kind: "refused" });
    expect(bank.calls).toHaveLength(3);
    // Owner grants are keyed separately from secret grants.
    await cached.grant({ accountId: "acct_1", ownerUserId: "u1" });
    expect(bank.calls).toHaveLength(4);
    t += 61_000;
    await cached.grant(right);
    expect(bank.calls).toHaveLength(5);
  });

  test("outages are not cached, and a grant near its expiry is not reused", async () => {
    const t = 5_000_000;
    let down = true;
    const bank = countingBank(() =>
      down
        ? { kind: "unavailable" }
        : { kind: "granted", grant: "g", expiresAt: new Date(t + 30 * 60 * 1000).toISOString() },
    );
    const cached = cachingSourceVerifier(bank.verifier, { ttlMs: 60_000, now: () => t });
    const input = { accountId: "acct_2", accountSecret: "s" };
    expect(await cached.grant(input)).toEqual({ kind: "unavailable" });
    down = false;
    expect((await cached.grant(input)).kind).toBe("granted");
    expect((await cached.grant(input)).kind).toBe("granted");
    // The grant expires within the hour: it is used once and never cached.
    expect(bank.calls).toHaveLength(3);
  });

  test("the account's currency is kept with the grant: a cached answer and a peek still name it", async () => {
    const t = 1_000_000;
    const bank = countingBank(() => ({
      kind: "granted",
      grant: "g-usd",
      expiresAt: new Date(t + day).toISOString(),
      currency: "USD",
    }));
    const cached = cachingSourceVerifier(bank.verifier, { ttlMs: 60_000, now: () => t });
    const input = { accountId: "acct_usd", accountSecret: "s" };
    expect(await cached.grant(input)).toMatchObject({ kind: "granted", currency: "USD" });
    expect(await cached.grant(input)).toMatchObject({ kind: "granted", grant: "g-usd", currency: "USD" });
    expect(cached.peek?.(input)).toEqual({ grant: "g-usd", currency: "USD" });
    expect(bank.calls).toHaveLength(1);
  });

  test("ttl 0 turns the cache off", async () => {
    const bank = countingBank(() => ({ kind: "granted", grant: "g" }));
    const cached = cachingSourceVerifier(bank.verifier, { ttlMs: 0 });
    await cached.grant({ accountId: "a", accountSecret: "s" });
    await cached.grant({ accountId: "a", accountSecret: "s" });
    expect(bank.calls).toHaveLength(2);
  });
});
