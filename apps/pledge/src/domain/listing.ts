// Pure helpers for pledge lists: the opaque keyset cursor (newest first by UUIDv7 id).
import { badRequest, decodeCursor, encodeCursor } from "@careforall/http";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor names the last id of the page; the next page holds the ids below it. */
export function encodeListCursor(lastId: string): string {
  return encodeCursor(["p", lastId]);
}

const isListCursor = (value: unknown): value is ["p", string] =>
  Array.isArray(value) && value.length === 2 && value[0] === "p" && typeof value[1] === "string" && UUID.test(value[1]);

/** The id to continue below, undefined for the first page; a cursor we did not issue → 400. */
export function decodeListCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor, isListCursor);
  if (!decoded)
    throw badRequest("The cursor is not valid", [{ path: "cursor", message: "Unknown or malformed cursor" }]);
  return decoded[1].toLowerCase();
}

/** Splits a fetched page of limit + 1 rows into the page and the next cursor. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? encodeListCursor(last.id) : null };
}
