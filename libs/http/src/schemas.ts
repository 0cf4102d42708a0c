// Schemas shared by many routes: strict integers for JSON bodies, list paging, ids and problems.
import { Type } from "@sinclair/typebox";
import { type TSchema, t } from "elysia";
import { badRequest } from "./errors";

/** A JSON-body integer that refuses numeric strings (Elysia's `t.Integer` would coerce "5"). */
export const Int = (options: Parameters<typeof Type.Integer>[0] = {}) => Type.Integer(options);

export const Uuid = (name = "id") => t.String({ format: "uuid", "x-name": name });

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The same check as `Uuid()`, for values that did not come through a route schema (events, tokens). */
export const isUuid = (value: string): boolean => UUID_PATTERN.test(value);

export const IdParams = t.Object({ id: Uuid("id") });

export const ListQuery = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20, "x-name": "limit" })),
  cursor: t.Optional(t.String({ minLength: 1, maxLength: 200, "x-name": "cursor" })),
};

export const Page = <T extends TSchema>(item: T) =>
  t.Object({ items: t.Array(item), nextCursor: t.Union([t.String(), t.Null()]) });

export const Problem = t.Object(
  {
    type: t.String(),
    title: t.String(),
    status: t.Integer(),
    detail: t.Optional(t.String()),
    errors: t.Optional(t.Array(t.Object({ path: t.String(), message: t.String() }))),
  },
  { additionalProperties: true, description: "RFC 9457 problem details" },
);

/**
 * One list's opaque cursors: base64url of `[kind, value]`, so clients cannot depend on their shape
 * and a cursor from another list (another kind) is not taken for this one's.
 */
export interface CursorCodec<T> {
  encode(value: T): string;
  /**
   * The value a cursor carries; undefined when there is none (the first page). Anything this list
   * did not issue — garbage, another list's cursor, a tampered value (a date that is no date) — is
   * a 400 naming the cursor, never silently the first page and never a 500.
   */
  decode(cursor: string | undefined): T | undefined;
}

export function cursorCodec<T>(kind: string, check: (value: unknown) => value is T): CursorCodec<T> {
  const refuse = () =>
    badRequest("The cursor is not valid", [
      { path: "cursor", message: "Not a cursor this list issued: pass nextCursor from the previous page as it came" },
    ]);
  return {
    encode: (value) => Buffer.from(JSON.stringify([kind, value])).toString("base64url"),
    decode(cursor) {
      if (cursor === undefined) return undefined;
      let parsed: unknown;
      try {
        if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse();
        parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
      } catch {
        throw refuse();
      }
      if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== kind || !check(parsed[1])) throw refuse();
      return parsed[1];
    },
  };
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Cursor value checks shared by the lists. */
export const cursorValues = {
  uuid: (v: unknown): v is string => typeof v === "string" && isUuid(v),
  /** An ISO-8601 UTC instant that is a real date (2026-02-30 is not). */
  instant: (v: unknown): v is string =>
    typeof v === "string" && ISO_INSTANT.test(v) && new Date(v).toISOString().slice(0, 19) === v.slice(0, 19),
  id: (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0,
};
