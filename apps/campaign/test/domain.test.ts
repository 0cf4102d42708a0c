// Pure campaign rules, exhaustively: every actor × action × status, patch rules against an
// injected "now", strict date parsing, cursors and search patterns.
import { describe, expect, test } from "bun:test";
import { AppError } from "@careforall/http";
import {
  type Actor,
  authorizeUpdate,
  type CampaignStatus,
  containsPattern,
  decideClose,
  decodeListCursor,
  encodeListCursor,
  hasEnded,
  mayChange,
  parseInstant,
  validateEndsAt,
  validatePatch,
} from "../src/domain";

const OWNER = "0193e3f0-0000-7000-8000-000000000001";
const owner: Actor = { id: OWNER, role: "donor" };
const admin: Actor = { id: "0193e3f0-0000-7000-8000-000000000002", role: "admin" };
const other: Actor = { id: "0193e3f0-0000-7000-8000-000000000003", role: "donor" };
const campaign = (status: CampaignStatus) => ({ ownerId: OWNER, status });
const NOW = new Date("2030-06-01T12:00:00.000Z");

function failure(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected the rule to refuse");
}

describe("who may change a campaign", () => {
  test.each([
    ["owner", owner, true],
    ["admin", admin, true],
    ["another donor", other, false],
  ] as const)("%s → %p", (_, actor, allowed) => {
    expect(mayChange(actor, campaign("active"))).toBe(allowed);
    expect(mayChange(actor, campaign("closed"))).toBe(allowed);
  });

  test("an admin who owns nothing still may change any campaign", () => {
    expect(mayChange({ id: OWNER, role: "admin" }, campaign("active"))).toBe(true);
  });
});

describe("update: actor × status", () => {
  const cases: Array<[string, Actor, CampaignStatus, number | "ok"]> = [
    ["owner", owner, "active", "ok"],
    ["admin", admin, "active", "ok"],
    ["other", other, "active", 403],
    ["owner", owner, "closed", 409],
    ["admin", admin, "closed", 409],
    // Authorization comes first: a stranger learns nothing about the campaign's state.
    ["other", other, "closed", 403],
  ];
  test.each(cases)("%s on %s campaign → %p", (_, actor, status, outcome) => {
    if (outcome === "ok") {
      expect(() => authorizeUpdate(actor, campaign(status), NOW)).not.toThrow();
    } else {
      expect(failure(() => authorizeUpdate(actor, campaign(status), NOW)).status).toBe(outcome);
    }
  });

  test("a closed campaign refuses updates with a stable conflict code", () => {
    expect(failure(() => authorizeUpdate(owner, campaign("closed"), NOW)).code).toBe("campaign-closed");
  });

  test("an active campaign past its end (not yet swept) refuses updates too: endsAt cannot reopen it", () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    const ended = failure(() => authorizeUpdate(owner, { ...campaign("active"), endsAt: at(0) }, NOW));
    expect([ended.status, ended.code]).toEqual([409, "campaign-ended"]);
    expect(() => authorizeUpdate(admin, { ...campaign("active"), endsAt: at(1) }, NOW)).not.toThrow();
    expect(hasEnded({ endsAt: at(-1) }, NOW)).toBe(true);
    expect(hasEnded({ endsAt: null }, NOW)).toBe(false);
    // Authorization still comes first.
    expect(failure(() => authorizeUpdate(other, { ...campaign("active"), endsAt: at(-1) }, NOW)).status).toBe(403);
  });
});

describe("close: actor × status", () => {
  const cases: Array<[string, Actor, CampaignStatus, "close" | "already-closed" | 403]> = [
    ["owner", owner, "active", "close"],
    ["admin", admin, "active", "close"],
    ["other", other, "active", 403],
    ["owner", owner, "closed", "already-closed"],
    ["admin", admin, "closed", "already-closed"],
    ["other", other, "closed", 403],
  ];
  test.each(cases)("%s closing a %s campaign → %p", (_, actor, status, outcome) => {
    if (outcome === 403) expect(failure(() => decideClose(actor, campaign(status))).status).toBe(403);
    else expect(decideClose(actor, campaign(status))).toBe(outcome);
  });
});

describe("patch rules", () => {
  test("keeps exactly the fields that were sent", () => {
    expect(validatePatch({ title: "New title" }, NOW)).toEqual({ title: "New title" });
    expect(validatePatch({ description: "" }, NOW)).toEqual({ description: "" });
    expect(validatePatch({ goalMinor: 100, title: undefined }, NOW)).toEqual({ goalMinor: 100 });
  });

  test("an empty patch is refused", () => {
    const err = failure(() => validatePatch({}, NOW));
    expect(err.status).toBe(400);
    expect(err.errors?.[0]?.path).toBe("body");
    expect(failure(() => validatePatch({ title: undefined }, NOW)).status).toBe(400);
  });

  test("endsAt null removes the end", () => {
    expect(validatePatch({ endsAt: null }, NOW)).toEqual({ endsAt: null });
  });

  test("endsAt must lie strictly after the injected now", () => {
    expect(validatePatch({ endsAt: "2030-06-01T12:00:00.001Z" }, NOW)).toEqual({
      endsAt: new Date("2030-06-01T12:00:00.001Z"),
    });
    for (const past of ["2030-06-01T12:00:00Z", "2030-06-01T11:59:59.999Z", "2020-01-01T00:00:00Z"]) {
      const err = failure(() => validatePatch({ endsAt: past }, NOW));
      expect(err.status).toBe(400);
      expect(err.errors?.[0]?.path).toBe("endsAt");
    }
  });

  test("offsets are honoured when comparing with now", () => {
    // 13:30+02:00 is 11:30Z, before NOW.
    expect(failure(() => validateEndsAt("2030-06-01T13:30:00+02:00", NOW)).status).toBe(400);
    expect(validateEndsAt("2030-06-01T10:30:00-02:00", NOW).toISOString()).toBe("2030-06-01T12:30:00.000Z");
  });
});

describe("strict date-time parsing", () => {
  test.each([
    "2030-01-01T00:00:00Z",
    "2030-12-31T23:59:59.999999Z",
    "2032-02-29T10:00:00+05:30",
    "2030-01-01T00:00:00-00:00",
  ])("accepts %s", (value) => {
    expect(parseInstant(value)).toBeInstanceOf(Date);
  });

  test.each([
    "2030-01-01",
    "2030-01-01T00:00:00",
    "2030-02-30T00:00:00Z",
    "2031-02-29T00:00:00Z",
    "2030-13-01T00:00:00Z",
    "2030-00-10T00:00:00Z",
    "2030-01-01T24:00:00Z",
    "2030-01-01T00:60:00Z",
    "2030-01-01T00:00:00+25:00",
    "tomorrow",
    "Mon Jan 01 2030 00:00:00 GMT+0000",
    " 2030-01-01T00:00:00Z",
  ])("refuses %p", (value) => {
    expect(parseInstant(value)).toBeNull();
  });
});

describe("list cursor", () => {
  const id = "0193e3f0-1234-7abc-8def-0123456789ab";

  test("round-trips the last id and is opaque", () => {
    const cursor = encodeListCursor(id);
    expect(cursor).not.toContain(id);
    expect(decodeListCursor(cursor)).toBe(id);
  });

  test("no cursor means the first page", () => {
    expect(decodeListCursor(undefined)).toBeUndefined();
  });

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  test.each([
    ["not base64 json", "%%%garbage"],
    ["plain text", "hello"],
    ["json of the wrong shape", b64({ id })],
    ["a tuple that is too long", b64([id, 1])],
    ["a non-uuid id", b64(["'; drop table campaigns; --"])],
    ["a number", b64([42])],
  ])("rejects %s with 400", (_, cursor) => {
    const err = failure(() => decodeListCursor(cursor));
    expect(err.status).toBe(400);
    expect(err.errors?.[0]?.path).toBe("cursor");
  });
});

describe("title search pattern", () => {
  test("wraps the text for a substring match", () => {
    expect(containsPattern("water")).toBe("%water%");
  });

  test("escapes LIKE wildcards and the escape character itself", () => {
    expect(containsPattern("100%")).toBe("%100\\%%");
    expect(containsPattern("a_b")).toBe("%a\\_b%");
    expect(containsPattern("c:\\dir")).toBe("%c:\\\\dir%");
  });
});
