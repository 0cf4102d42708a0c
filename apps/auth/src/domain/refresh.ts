// Refresh-token rotation rule. A token is spent once; presenting a spent token again means it
// was copied (a thief or a replay), so the caller revokes its whole family (OAuth 2.0 BCP §4.14).

export interface RefreshTokenState {
  usedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date;
}

/**
 * - `rotate`: live token, spend it and issue the next one in the same family;
 * - `reuse-detected`: already spent and not yet revoked, revoke the family and refuse;
 * - `invalid`: unknown, revoked (family already dead) or expired, refuse.
 */
export type RefreshDecision = "rotate" | "reuse-detected" | "invalid";

export function decideRefresh(token: RefreshTokenState | null, now: Date): RefreshDecision {
  if (token === null) return "invalid";
  if (token.revokedAt !== null) return "invalid";
  // A spent token is reuse even after expiry: the family may still hold a live successor.
  if (token.usedAt !== null) return "reuse-detected";
  if (token.expiresAt.getTime() <= now.getTime()) return "invalid";
  return "rotate";
}
