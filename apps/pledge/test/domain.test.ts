// Pure pledge rules beside the state machine: what makes two requests "the same", whose key a
// request uses, receipt tokens and their sealing, the forwarded donor name, campaign acceptance
// and list cursors. No I/O.
import { describe, expect, test } from "bun:test";
import { AppError } from "@careforall/http";
import {
  campaignAccepts,
  campaignEnded,
  canonicalRequest,
  decodeListCursor,
  donorIdentity,
  encodeListCursor,
  hashReceiptToken,
  headerText,
  judgeExistingKey,
  newReceiptToken,
  openReceiptToken,
  receiptTokenMatches,
  requestHash,
  sealReceiptToken,
} from "../src/domain";

const CAMPAIGN = "0193e3f0-0000-7000-8000-000000000001";
const base = { amountMinor: 1_000, currency: "BDT" as const };

describe("canonical request", () => {
  test("omitted anonymous equals false; email case is not a difference", () => {
    expect(canonicalRequest(CAMPAIGN, base)).toBe(canonicalRequest(CAMPAIGN, { ...base, anonymous: false }));
    const donor = (email: string) => ({ ...base, donor: { email, name: "N" } });
    expect(canonicalRequest(CAMPAIGN, donor("A@B.test"))).toBe(canonicalRequest(CAMPAIGN, donor("a@b.TEST")));
  });

  test.each([
    ["amount", { amountMinor: 1_001 }],
    ["currency", { currency: "USD" as const }],
    ["anonymous", { anonymous: true }],
    ["message", { message: "" }],
    ["source", { source: { bankAccountId: "acct_a", accountSecret: "s" } }],
    ["donor name", { donor: { email: "a@b.test", name: "Other" } }],
  ])("a different %s is a different request", (_, patch) => {
    expect(requestHash(canonicalRequest(CAMPAIGN, { ...base, ...patch }))).not.toBe(
      requestHash(canonicalRequest(CAMPAIGN, base)),
    );
  });

  test("another secret or another campaign is another request", () => {
    const withSecret = (accountSecret: string) => ({ ...base, source: { bankAccountId: "acct_a", accountSecret } });
    expect(canonicalRequest(CAMPAIGN, withSecret("x"))).not.toBe(canonicalRequest(CAMPAIGN, withSecret("y")));
    expect(canonicalRequest(CAMPAIGN, base)).not.toBe(canonicalRequest(CAMPAIGN.replace(/1$/, "2"), base));
  });

  test("an existing key: another hash → mismatch; same hash → in-flight or replay", () => {
    expect(judgeExistingKey({ requestHash: "a", state: "done" }, "b")).toBe("mismatch");
    expect(judgeExistingKey({ requestHash: "a", state: "in_flight" }, "b")).toBe("mismatch");
    expect(judgeExistingKey({ requestHash: "a", state: "in_flight" }, "a")).toBe("in-flight");
    expect(judgeExistingKey({ requestHash: "a", state: "done" }, "a")).toBe("replay");
  });
});

describe("donor identity", () => {
  test("users by id; guests by the keyed HMAC of the normalised email, never the address", () => {
    const secret = "domain-test-donor-key-secret";
    expect(donorIdentity({ userId: "u1" }, secret)).toEqual({ scope: "user:u1", donorKey: "u1" });
    const guest = donorIdentity({ guestEmail: " Guest@Example.TEST " }, secret);
    expect(guest.scope).toMatch(/^guest:[0-9a-f]{64}$/);
    expect(guest.donorKey).toBe(guest.scope);
    expect(guest).toEqual(donorIdentity({ guestEmail: "guest@example.test" }, secret));
    expect(guest.scope).not.toContain("example");
  });

  test("x-donor-name: percent-encoded names decode; plain names stay; broken encodings are kept", () => {
    expect(headerText(encodeURIComponent("রহিম উদ্দিন"))).toBe("রহিম উদ্দিন");
    expect(headerText("Jane Doe")).toBe("Jane Doe");
    expect(headerText("100%zz")).toBe("100%zz");
    expect(headerText("%E0%A6")).toBe("%E0%A6");
    expect(headerText("   ")).toBeUndefined();
    expect(headerText(undefined)).toBeUndefined();
  });
});

describe("receipt tokens", () => {
  test("256 random bits, stored only as a hash, checked in constant time", () => {
    const token = newReceiptToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newReceiptToken()).not.toBe(token);
    const hash = hashReceiptToken(token);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(receiptTokenMatches(token, hash)).toBe(true);
    expect(receiptTokenMatches(`${token}x`, hash)).toBe(false);
    expect(receiptTokenMatches(token, null)).toBe(false);
    expect(receiptTokenMatches("", hash)).toBe(false);
  });

  test("a sealed token opens only with the same material, and not when tampered with", () => {
    const token = newReceiptToken();
    const sealed = sealReceiptToken(token, "scope\nkey\nrequest");
    expect(sealed).not.toContain(token);
    expect(openReceiptToken(sealed, "scope\nkey\nrequest")).toBe(token);
    expect(openReceiptToken(sealed, "scope\nkey\nanother request")).toBeNull();
    const bytes = Buffer.from(sealed, "base64url");
    bytes[bytes.length - 1]! ^= 1;
    expect(openReceiptToken(bytes.toString("base64url"), "scope\nkey\nrequest")).toBeNull();
    expect(openReceiptToken("garbage", "scope\nkey\nrequest")).toBeNull();
  });
});

describe("campaign acceptance", () => {
  const now = new Date("2027-01-01T12:00:00.000Z");
  const view = (status: "active" | "closed", currency: "BDT" | "USD", endsAt: Date | null = null) => ({
    status,
    currency,
    endsAt,
  });
  test("unknown, closed, other currency, or fine", () => {
    expect(campaignAccepts(undefined, "BDT", now)).toMatchObject({ ok: false, reason: "unknown" });
    expect(campaignAccepts(view("closed", "BDT"), "BDT", now)).toMatchObject({
      ok: false,
      reason: "closed",
    });
    expect(campaignAccepts(view("active", "USD"), "BDT", now)).toMatchObject({
      ok: false,
      reason: "currency",
    });
    // Closed wins over currency: the campaign takes nothing at all.
    expect(campaignAccepts(view("closed", "USD"), "BDT", now)).toMatchObject({ reason: "closed" });
    expect(campaignAccepts(view("active", "BDT"), "BDT", now)).toEqual({ ok: true });
  });

  test("a campaign ends AT endsAt: a millisecond before is fine, the instant itself and after are 'ended'", () => {
    const at = (ms: number) => new Date(now.getTime() + ms);
    expect(campaignAccepts(view("active", "BDT", at(1)), "BDT", now)).toEqual({ ok: true });
    expect(campaignAccepts(view("active", "BDT", at(0)), "BDT", now)).toMatchObject({ ok: false, reason: "ended" });
    expect(campaignAccepts(view("active", "BDT", at(-1)), "BDT", now)).toMatchObject({ ok: false, reason: "ended" });
    // Closed wins over ended, ended over currency (the order accept_pledge answers in).
    expect(campaignAccepts(view("closed", "BDT", at(-1)), "BDT", now)).toMatchObject({ reason: "closed" });
    expect(campaignAccepts(view("active", "USD", at(-1)), "BDT", now)).toMatchObject({ reason: "ended" });
    expect(campaignEnded(null, now)).toBe(false);
  });
});

describe("list cursors", () => {
  test("round trip; anything we did not issue → 400", () => {
    const id = "0193e3f0-0000-7000-8000-00000000000a";
    expect(decodeListCursor(encodeListCursor(id))).toBe(id);
    expect(decodeListCursor(undefined)).toBeUndefined();
    for (const bad of [
      "garbage",
      Buffer.from('["p","nope"]').toString("base64url"),
      Buffer.from("[1]").toString("base64url"),
    ]) {
      expect(() => decodeListCursor(bad)).toThrow(AppError);
    }
  });
});
