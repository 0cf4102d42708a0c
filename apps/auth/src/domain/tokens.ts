// Opaque refresh tokens: 256 random bits handed to the client once; the database keeps only
// their SHA-256, so a leaked table cannot be replayed as sessions.

const REFRESH_TOKEN_BYTES = 32;

/** A fresh refresh token: 32 random bytes, base64url (43 characters, no padding). */
export function newRefreshToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(REFRESH_TOKEN_BYTES))).toString("base64url");
}

/** SHA-256 hex of a token, the only form in which tokens are stored or looked up. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}
