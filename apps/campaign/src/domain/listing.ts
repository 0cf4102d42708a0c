// Pure helpers for listing campaigns: the opaque keyset cursor (newest first by UUIDv7 id) and
// the LIKE pattern for title search with the user's wildcards taken literally.
import { badRequest, decodeCursor, encodeCursor } from "@careforall/http";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor names the last id of the page; the next page holds the ids below it. */
export function encodeListCursor(lastId: string): string {
  return encodeCursor([lastId]);
}

const isListCursor = (value: unknown): value is [string] =>
  Array.isArray(value) && value.length === 1 && typeof value[0] === "string" && UUID.test(value[0]);

/** Returns the id to continue below, undefined for the first page; a cursor we did not issue → 400. */
export function decodeListCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor, isListCursor);
  if (!decoded)
    throw badRequest("The cursor is not valid", [{ path: "cursor", message: "Unknown or malformed cursor" }]);
  return decoded[0].toLowerCase();
}

/** `%text%` for LIKE … ESCAPE '\', with `\`, `%` and `_` in the user's text escaped so they match literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
