// Guest receipt tokens: 256 random bits shown once; the pledge keeps only their SHA-256. For a
// replayed create, a copy is sealed (AES-256-GCM) under a key derived from the guest's own
// request — which includes the account secret we never store — so only the same request reopens it.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { sha256Hex } from "./donor";

export function newReceiptToken(): string {
  return randomBytes(32).toString("base64url");
}

export const hashReceiptToken = (token: string) => sha256Hex(`careforall/pledge/receipt-token/v1\n${token}`);

/** Constant-time check of a presented token against the stored hash. */
export function receiptTokenMatches(token: string, storedHash: string | null): boolean {
  if (!storedHash || token.length === 0 || token.length > 256) return false;
  const a = Buffer.from(hashReceiptToken(token), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

function sealingKey(material: string): Buffer {
  return createHash("sha256").update(`careforall/pledge/receipt-seal/v1\n${material}`).digest();
}

/** base64url(iv ‖ tag ‖ ciphertext). `material` is the scope, the key and the canonical request. */
export function sealReceiptToken(token: string, material: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", sealingKey(material), iv);
  const body = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** The token, or null when the material differs (another request) or the value was tampered with. */
export function openReceiptToken(sealed: string, material: string): string | null {
  try {
    const bytes = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", sealingKey(material), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}
