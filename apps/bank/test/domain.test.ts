// Pure bank rules, exhaustively: the hold state machine (every state × every operation), the
// amount decisions built on it, grants, secrets, request fingerprints, chaos draws and backoff.
import { describe, expect, test } from "bun:test";
import {
  canonicalJson,
  decideCapture,
  decideRefund,
  decideRelease,
  fires,
  HOLD_OPERATIONS,
  HOLD_STATES,
  type HoldFacts,
  type HoldOperation,
  type HoldState,
  hashSecret,
  isExpirable,
  mergeFaults,
  NO_FAULTS,
  newAccountId,
  normaliseFaults,
  requestHash,
  secretMatches,
  signGrant,
  transition,
  verifyGrant,
  webhookBackoffMs,
} from "../src/domain";

const NOW = new Date("2030-01-01T00:00:00Z");
const LATER = new Date(NOW.getTime() + 60_000);
const EARLIER = new Date(NOW.getTime() - 1);

describe("hold state machine: every state × every operation", () => {
  const expected: Record<HoldState, Record<HoldOperation, HoldState | "not_held" | "not_captured">> = {
    held: { capture: "captured", release: "released", expire: "expired", refund: "not_captured" },
    captured: { capture: "not_held", release: "not_held", expire: "not_held", refund: "captured" },
    released: { capture: "not_held", release: "not_held", expire: "not_held", refund: "not_captured" },
    expired: { capture: "not_held", release: "not_held", expire: "not_held", refund: "not_captured" },
  };
  for (const state of HOLD_STATES) {
    for (const operation of HOLD_OPERATIONS) {
      const want = expected[state][operation];
      test(`${state} + ${operation} → ${want}`, () => {
        const result = transition(state, operation);
        if (want === "not_held" || want === "not_captured") expect(result).toEqual({ ok: false, reason: want });
        else expect(result).toEqual({ ok: true, to: want });
      });
    }
  }

  test("nothing ever goes back to held, and only held moves to another state", () => {
    for (const state of HOLD_STATES) {
      for (const operation of HOLD_OPERATIONS) {
        const r = transition(state, operation);
        if (r.ok) {
          expect(r.to).not.toBe("held");
          if (r.to !== state) expect(state).toBe("held");
        }
      }
    }
  });
});

const hold = (over: Partial<HoldFacts> = {}): HoldFacts => ({
  status: "held",
  amountMinor: 1000,
  capturedMinor: 0,
  refundedMinor: 0,
  expiresAt: LATER,
  ...over,
});

describe("decideCapture", () => {
  test("whole hold when the amount is omitted; any part from 1 to the hold", () => {
    expect(decideCapture(hold(), undefined, NOW)).toEqual({ ok: true, amountMinor: 1000 });
    expect(decideCapture(hold(), 1, NOW)).toEqual({ ok: true, amountMinor: 1 });
    expect(decideCapture(hold(), 1000, NOW)).toEqual({ ok: true, amountMinor: 1000 });
  });
  test("over the hold, zero or negative → over_amount", () => {
    for (const amount of [1001, 0, -5])
      expect(decideCapture(hold(), amount, NOW)).toEqual({ ok: false, reason: "over_amount" });
  });
  test("at or past the expiry → expired; every state but held → not_held", () => {
    expect(decideCapture(hold({ expiresAt: NOW }), undefined, NOW)).toEqual({ ok: false, reason: "expired" });
    expect(decideCapture(hold({ expiresAt: EARLIER }), undefined, NOW)).toEqual({ ok: false, reason: "expired" });
    for (const status of ["captured", "released", "expired"] as const) {
      expect(decideCapture(hold({ status }), undefined, NOW)).toEqual({ ok: false, reason: "not_held" });
    }
  });
});

describe("decideRefund", () => {
  const captured = hold({ status: "captured", capturedMinor: 800 });
  test("the rest when omitted; up to what is left", () => {
    expect(decideRefund(captured, undefined)).toEqual({ ok: true, amountMinor: 800 });
    expect(decideRefund({ ...captured, refundedMinor: 300 }, undefined)).toEqual({ ok: true, amountMinor: 500 });
    expect(decideRefund({ ...captured, refundedMinor: 300 }, 500)).toEqual({ ok: true, amountMinor: 500 });
  });
  test("over-refund → over_amount; nothing left → fully_refunded; not captured → not_captured", () => {
    expect(decideRefund({ ...captured, refundedMinor: 300 }, 501)).toEqual({ ok: false, reason: "over_amount" });
    expect(decideRefund(captured, 0)).toEqual({ ok: false, reason: "over_amount" });
    expect(decideRefund({ ...captured, refundedMinor: 800 }, undefined)).toEqual({
      ok: false,
      reason: "fully_refunded",
    });
    expect(decideRefund({ ...captured, refundedMinor: 800 }, 1)).toEqual({ ok: false, reason: "over_amount" });
    for (const status of ["held", "released", "expired"] as const) {
      expect(decideRefund(hold({ status }), undefined)).toEqual({ ok: false, reason: "not_captured" });
    }
  });
});

describe("decideRelease and isExpirable", () => {
  test("release only while held (even past the expiry the sweeper has not reached)", () => {
    expect(decideRelease({ status: "held" })).toEqual({ ok: true });
    for (const status of ["captured", "released", "expired"] as const) {
      expect(decideRelease({ status })).toEqual({ ok: false, reason: "not_held" });
    }
  });
  test("expirable only when held and due", () => {
    expect(isExpirable(hold({ expiresAt: NOW }), NOW)).toBe(true);
    expect(isExpirable(hold({ expiresAt: EARLIER }), NOW)).toBe(true);
    expect(isExpirable(hold({ expiresAt: LATER }), NOW)).toBe(false);
    for (const status of ["captured", "released", "expired"] as const) {
      expect(isExpirable(hold({ status, expiresAt: EARLIER }), NOW)).toBe(false);
    }
  });
});

describe("grants", () => {
  const secret = "grant-secret-for-tests-0123";
  const now = 1_900_000_000;
  test("a signed grant verifies for its account until it expires", () => {
    const grant = signGrant(secret, "acct_abc", now + 60);
    expect(verifyGrant(secret, grant, now)).toEqual({ accountId: "acct_abc" });
    expect(verifyGrant(secret, grant, now + 59)).toEqual({ accountId: "acct_abc" });
    expect(verifyGrant(secret, grant, now + 60)).toBeNull();
  });
  test("another secret, a changed account or expiry, a flipped bit or garbage → null", () => {
    const grant = signGrant(secret, "acct_abc", now + 60);
    const [, exp, mac] = grant.split(".") as [string, string, string];
    expect(verifyGrant("another-secret-0123456789", grant, now)).toBeNull();
    expect(verifyGrant(secret, `acct_abd.${exp}.${mac}`, now)).toBeNull();
    expect(verifyGrant(secret, `acct_abc.${Number(exp) + 1}.${mac}`, now)).toBeNull();
    expect(verifyGrant(secret, `acct_abc.${exp}.${mac.replace(/.$/, (c) => (c === "0" ? "1" : "0"))}`, now)).toBeNull();
    for (const bad of ["", "x", "a.b", "a.b.c.d", `acct_abc.${exp}.${mac.toUpperCase()}`, `acct abc.${exp}.${mac}`]) {
      expect(verifyGrant(secret, bad, now)).toBeNull();
    }
  });
  test("secrets are stored as sha-256 and compared in constant time", () => {
    const stored = hashSecret("s3cret");
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(secretMatches("s3cret", stored)).toBe(true);
    expect(secretMatches("s3creT", stored)).toBe(false);
    expect(secretMatches("s3cret", null)).toBe(false);
    expect(secretMatches("s3cret", "abcd")).toBe(false);
  });
  test("account ids are acct_ + 32 hex digits, unique", () => {
    const ids = new Set(Array.from({ length: 100 }, newAccountId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^acct_[0-9a-f]{32}$/);
  });
});

describe("request fingerprints", () => {
  test("key order and undefined fields do not matter; values do", () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1, b: undefined })).toBe(requestHash({ a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: "1" }));
  });
});

describe("chaos draws", () => {
  test("rate 0 never fires nor draws; rate 1 always fires without drawing; otherwise random() < rate", () => {
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };
    expect(fires(0, random)).toBe(false);
    expect(fires(1, random)).toBe(true);
    expect(draws).toBe(0);
    expect(fires(0.6, random)).toBe(true);
    expect(fires(0.5, random)).toBe(false);
    expect(draws).toBe(2);
  });
  test("merging keeps omitted knobs; normalising repairs a stored row", () => {
    expect(mergeFaults(NO_FAULTS, { errorRate: 0.2 })).toEqual({ ...NO_FAULTS, errorRate: 0.2 });
    expect(mergeFaults({ ...NO_FAULTS, latencyMs: 5 }, { webhookReorder: true })).toEqual({
      ...NO_FAULTS,
      latencyMs: 5,
      webhookReorder: true,
    });
    expect(normaliseFaults({ errorRate: 2, latencyMs: -1, webhookReorder: "yes", webhookDropRate: 0.3 })).toEqual({
      ...NO_FAULTS,
      webhookDropRate: 0.3,
    });
    expect(normaliseFaults(null, { ...NO_FAULTS, errorRate: 0.1 })).toEqual({ ...NO_FAULTS, errorRate: 0.1 });
  });
});

describe("webhook backoff", () => {
  test("doubles from the base, capped, with equal jitter", () => {
    const max = (n: number) => webhookBackoffMs(n, 100, 5000, () => 1);
    const min = (n: number) => webhookBackoffMs(n, 100, 5000, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(max)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect([1, 2, 3].map(min)).toEqual([50, 100, 200]);
    expect(webhookBackoffMs(3, 100, 5000, () => 0.5)).toBe(300);
  });
});
