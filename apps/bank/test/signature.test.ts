// Webhook signatures as the payment service verifies them: `t=<unix>,v1=<hex HMAC-SHA256 of
// "t.body">`, constant-time, 300 s tolerance both ways. Every way to get it wrong is refused.
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { checkWebhookSignature, signWebhook, verifyWebhookSignature } from "../src/app";

const SECRET = "whsec-test-0123456789abcdef";
const BODY = JSON.stringify({
  id: "evt",
  type: "hold.captured",
  createdAt: "2030-01-01T00:00:00.000Z",
  data: { holdId: "h" },
});
const T = 1_900_000_000;

describe("signWebhook", () => {
  test('is t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    const expected = createHmac("sha256", SECRET).update(`${T}.${BODY}`).digest("hex");
    expect(signWebhook(SECRET, BODY, T)).toBe(`t=${T},v1=${expected}`);
  });
  test("refuses a non-integer timestamp", () => {
    expect(() => signWebhook(SECRET, BODY, 1.5)).toThrow();
    expect(() => signWebhook(SECRET, BODY, -1)).toThrow();
  });
});

describe("verifyWebhookSignature", () => {
  const header = signWebhook(SECRET, BODY, T);

  test("valid: same secret, exact body, fresh timestamp", () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, T)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, BODY, T + 300)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, BODY, T - 300)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, BODY, T + 0.999)).toBe(true);
    expect(checkWebhookSignature(SECRET, header, BODY, T)).toEqual({ ok: true, timestamp: T });
  });

  test("wrong secret → mismatch", () => {
    expect(verifyWebhookSignature("another-secret-0123456789", header, BODY, T)).toBe(false);
    expect(checkWebhookSignature("another-secret-0123456789", header, BODY, T)).toEqual({
      ok: false,
      reason: "mismatch",
    });
  });

  test("tampered body (even whitespace) → mismatch", () => {
    expect(verifyWebhookSignature(SECRET, header, BODY.replace('"h"', '"x"'), T)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, `${BODY} `, T)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, JSON.stringify(JSON.parse(BODY), null, 2), T)).toBe(false);
  });

  test("tampered timestamp → mismatch (t is signed)", () => {
    const moved = header.replace(`t=${T}`, `t=${T + 1}`);
    expect(checkWebhookSignature(SECRET, moved, BODY, T)).toEqual({ ok: false, reason: "mismatch" });
  });

  test("missing header → missing", () => {
    for (const missing of [null, undefined, "", "   "]) {
      expect(verifyWebhookSignature(SECRET, missing, BODY, T)).toBe(false);
      expect(checkWebhookSignature(SECRET, missing, BODY, T)).toEqual({ ok: false, reason: "missing" });
    }
  });

  test("malformed headers → malformed", () => {
    const mac = header.split("v1=")[1]!;
    const malformed = [
      "garbage",
      `v1=${mac}`,
      `t=${T}`,
      `t=${T},v1=`,
      `t=${T},v1=${mac.slice(1)}`,
      `t=${T},v1=${mac.toUpperCase()}`,
      `t=${T},v1=${mac}zz`,
      `t=abc,v1=${mac}`,
      `t=-5,v1=${mac}`,
      `t=${T},t=${T},v1=${mac}`,
      `t=${T};v1=${mac}`,
      `=${T},v1=${mac}`,
    ];
    for (const h of malformed) {
      expect(verifyWebhookSignature(SECRET, h, BODY, T)).toBe(false);
      expect(checkWebhookSignature(SECRET, h, BODY, T)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  test("t older than 300 s → stale", () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, T + 301)).toBe(false);
    expect(checkWebhookSignature(SECRET, header, BODY, T + 301)).toEqual({ ok: false, reason: "stale" });
    expect(checkWebhookSignature(SECRET, header, BODY, T + 86_400)).toEqual({ ok: false, reason: "stale" });
  });

  test("t in the future beyond the tolerance → future", () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, T - 301)).toBe(false);
    expect(checkWebhookSignature(SECRET, header, BODY, T - 301)).toEqual({ ok: false, reason: "future" });
  });

  test("a custom tolerance applies", () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, T + 10, 5)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, BODY, T + 5, 5)).toBe(true);
  });

  test("several v1 entries (secret rotation): any match is enough; unknown keys are ignored", () => {
    const other = signWebhook("old-secret-0123456789abcd", BODY, T).split("v1=")[1]!;
    const mac = header.split("v1=")[1]!;
    expect(verifyWebhookSignature(SECRET, `t=${T},v1=${other},v1=${mac}`, BODY, T)).toBe(true);
    expect(verifyWebhookSignature(SECRET, `t=${T},v0=abc,v1=${mac}`, BODY, T)).toBe(true);
    expect(verifyWebhookSignature(SECRET, `t=${T},v1=${other}`, BODY, T)).toBe(false);
    expect(verifyWebhookSignature(SECRET, ` t=${T} , v1=${mac} `, BODY, T)).toBe(true);
  });
});
