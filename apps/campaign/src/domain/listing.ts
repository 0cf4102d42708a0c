// Pure helpers for listing campaigns: the opaque keyset cursor (newest first by UUIDv7 id) and
// the LIKE pattern for title search with the user's wildcards taken literally.
import { cursorCodec, cursorValues } from "@careforall/http";

const cursor = cursorCodec(
  "campaigns",
  (v: unknown): v is [string] => Array.isArray(v) && v.length === 1 && cursorValues.uuid(v[0]),
);

/** The cursor names the last id of the page; the next page holds the ids below it. */
export function encodeListCursor(lastId: string): string {
  return cursor.encode([lastId]);
}

/** Returns the id to continue below, undefined for the first page; a cursor we did not issue → 400. */
export function decodeListCursor(value: string | undefined): string | undefined {
  return cursor.decode(value)?.[0].toLowerCase();
}

/** `%text%` for LIKE … ESCAPE '\', with `\`, `%` and `_` in the user's text escaped so they match literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
