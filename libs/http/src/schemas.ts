// Schemas shared by many routes: strict integers for JSON bodies, list paging, ids and problems.
import { Type } from "@sinclair/typebox";
import { type TSchema, t } from "elysia";

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

/** Opaque cursors: base64url of a JSON tuple, so clients cannot depend on their shape. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (check(value)) return value;
  } catch {}
  return undefined;
}
