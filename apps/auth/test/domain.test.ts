import { describe, expect, test } from "bun:test";
import { decideRefresh, hashToken, newRefreshToken, normaliseEmail, type RefreshTokenState } from "../src/domain";

describe("decideRefresh", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  const earlier = new Date(now.getTime() - 60_000);
  const expiries = { past: earlier, "exactly now": now, future: new Date(now.getTime() + 60_000) };

  test("an unknown token is invalid", () => {
    expect(decideRefresh(null, now)).toBe("invalid");
  });

  // Every combination of used × revoked × expiry.
  const cases: Array<[used: boolean, revoked: boolean, expiry: keyof typeof expiries, expected: string]> = [
    [false, false, "future", "rotate"],
    [false, false, "exactly now", "invalid"],
    [false, false, "past", "invalid"],
    [true, false, "future", "reuse-detected"],
    [true, false, "exactly now", "reuse-detected"],
    [true, false, "past", "reuse-detected"],
    [false, true, "future", "invalid"],
    [false, true, "exactly now", "invalid"],
    [false, true, "past", "invalid"],
    [true, true, "future", "invalid"],
    [true, true, "exactly now", "invalid"],
    [true, true, "past", "invalid"],
  ];
  test.each(cases)("used=%p revoked=%p expiry=%p → %p", (used, revoked, expiry, expected) => {
    const token: RefreshTokenState = {
      usedAt: used ? earlier : null,
      revokedAt: revoked ? earlier : null,
      expiresAt: expiries[expiry],
    };
    expect(decideRefresh(token, now)).toBe(expected as ReturnType<typeof decideRefresh>);
  });
});

describe("normaliseEmail", () => {
  test("trims and lower-cases so one address maps to one account", () => {
    expect(normaliseEmail("  Ada.Lovelace@Example.ORG \n")).toBe("ada.lovelace@example.org");
    expect(normaliseEmail("ada@example.org")).toBe("ada@example.org");
  });
});

describe("refresh token helpers", () => {
  test("new tokens are 32 random bytes in base64url and never repeat", () => {
    const tokens = new Set(Array.from({ length: 200 }, () => newRefreshToken()));
    expect(tokens.size).toBe(200);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, "base64url").byteLength).toBe(32);
    }
  });

  test("hashToken is the SHA-256 hex digest, stable and distinct per token", () => {
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const token = newRefreshToken();
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(newRefreshToken()));
    expect(hashToken(token)).not.toContain(token);
  });
});
