// Grants and account secrets. A grant is the bank's signed, single-purpose permission to draw on
// one account until it expires: `<accountId>.<expiresAt unix s>.<hex HMAC-SHA256(GRANT_SECRET,
// "<accountId>.<expiresAt>")>`. It lets the pledge event carry no secret.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,100}$/;

function grantMac(secret: string, accountId: string, expiresAt: number): Buffer {
  return createHmac("sha256", secret).update(`${accountId}.${expiresAt}`).digest();
}

export function signGrant(secret: string, accountId: string, expiresAtSeconds: number): string {
  if (!ACCOUNT_ID.test(accountId)) throw new Error("signGrant: invalid account id");
  return `${accountId}.${expiresAtSeconds}.${grantMac(secret, accountId, expiresAtSeconds).toString("hex")}`;
}

/** The account a grant is for, or null when it is malformed, forged or expired. */
export function verifyGrant(secret: string, grant: string, nowSeconds: number): { accountId: string } | null {
  const parts = grant.split(".");
  if (parts.length !== 3) return null;
  const [accountId, exp, mac] = parts as [string, string, string];
  if (!ACCOUNT_ID.test(accountId) || !/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(mac)) return null;
  const expiresAt = Number(exp);
  if (!timingSafeEqual(grantMac(secret, accountId, expiresAt), Buffer.from(mac, "hex"))) return null;
  if (expiresAt <= nowSeconds) return null;
  return { accountId };
}

/** sha-256 hex; account secrets are random and high-entropy (test accounts use a published one). */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function secretMatches(secret: string, storedHash: string | null): boolean {
  if (!storedHash) return false;
  const given = createHash("sha256").update(secret).digest();
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === given.length && timingSafeEqual(given, stored);
}

/** A new demo account secret: 144 random bits, base64url. */
export function newAccountSecret(): string {
  return randomBytes(18).toString("base64url");
}

/** `acct_<uuidv7 hex>`. */
export function newAccountId(): string {
  return `acct_${Bun.randomUUIDv7().replaceAll("-", "")}`;
}
