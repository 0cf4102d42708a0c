// Webhook signatures, shared with the payment service (re-exported by the package): header
// `Bank-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
// Pure and synchronous; comparison is constant-time; stale or future timestamps are refused.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "bank-signature";
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function hmacHex(secret: string, t: number, body: string): string {
  return createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
}

/** The `Bank-Signature` header value for `body` (the exact bytes sent) at unix time `t` (seconds). */
export function signWebhook(secret: string, body: string, t: number): string {
  if (!Number.isSafeInteger(t) || t < 0) throw new Error("signWebhook: t must be a non-negative integer (seconds)");
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "missing" | "malformed" | "stale" | "future" | "mismatch" };

/**
 * Why a signature is (not) acceptable. Accepts several `v1=` entries (secret rotation); any one
 * matching is enough. `|now - t|` beyond the tolerance is refused either way.
 */
export function checkWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): SignatureCheck {
  if (header === null || header === undefined || header.trim() === "") return { ok: false, reason: "missing" };
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return { ok: false, reason: "malformed" };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (t !== undefined || !/^\d{1,15}$/.test(value)) return { ok: false, reason: "malformed" };
      t = Number(value);
    } else if (key === "v1") {
      if (!HEX_SHA256.test(value)) return { ok: false, reason: "malformed" };
      candidates.push(value);
    }
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: "malformed" };
  if (nowSeconds - t > toleranceSeconds) return { ok: false, reason: "stale" };
  if (t - nowSeconds > toleranceSeconds) return { ok: false, reason: "future" };
  const expected = Buffer.from(hmacHex(secret, t, body), "hex");
  let match = false;
  // Compare against every candidate (no early exit), each in constant time.
  for (const candidate of candidates) {
    if (timingSafeEqual(expected, Buffer.from(candidate, "hex"))) match = true;
  }
  return match ? { ok: true, timestamp: t } : { ok: false, reason: "mismatch" };
}

/** True only for a well-formed, fresh signature of exactly `body` made with `secret`. */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  return checkWebhookSignature(secret, header, body, nowSeconds, toleranceSeconds).ok;
}
