// One cursor codec for every list: what it issued comes back; anything else is a 400 naming the
// cursor — garbage, another list's cursor, a tampered value — never the first page, never a 500.
import { describe, expect, test } from "bun:test";
import { AppError, cursorCodec, cursorValues } from "@careforall/http";

const donations = cursorCodec(
  "donations",
  (v: unknown): v is [string, string] =>
    Array.isArray(v) && v.length === 2 && cursorValues.instant(v[0]) && cursorValues.uuid(v[1]),
);
const entries = cursorCodec(
  "entries",
  (v: unknown): v is [number] => Array.isArray(v) && v.length === 1 && cursorValues.id(v[0]),
);
const raw = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function refusal(cursor: string): AppError {
  try {
    donations.decode(cursor);
  } catch (err) {
    return err as AppError;
  }
  throw new Error(`cursor ${cursor} was accepted`);
}

describe("cursorCodec", () => {
  const value: [string, string] = ["2026-12-04T10:00:00.123Z", "01a240f0-b2a0-7239-9097-a79b7e6a6220"];

  test("what it issued comes back; no cursor is the first page", () => {
    expect(donations.decode(donations.encode(value))).toEqual(value);
    expect(entries.decode(entries.encode([42]))).toEqual([42]);
    expect(donations.decode(undefined)).toBeUndefined();
  });

  test.each([
    ["garbage", "garbage"],
    ["not base64url", "%00\u0000"],
    ["base64 of no JSON", Buffer.from("[not json").toString("base64url")],
    ["another list's cursor", entries.encode([42])],
    ["the old shape, without a kind", raw(value)],
    ["a date that is no date", raw(["donations", ["not-a-date", value[1]]])],
    ["a calendar date that does not exist", raw(["donations", ["2026-02-30T10:00:00.000Z", value[1]]])],
    ["an id that is no uuid", raw(["donations", [value[0], "x"]])],
    ["extra items", raw(["donations", [...value, 1]])],
  ])("%s → 400 naming the cursor", (_what, cursor) => {
    const err = refusal(cursor);
    expect(err).toBeInstanceOf(AppError);
    expect(err.status).toBe(400);
    expect(err.errors?.[0]?.path).toBe("cursor");
  });

  test("entry ids: safe non-negative integers only", () => {
    for (const bad of [[-1], [1.5], [Number.MAX_SAFE_INTEGER + 2], ["1"]])
      expect(() => entries.decode(raw(["entries", bad]))).toThrow(AppError);
  });
});
