// Pure helpers for pledge lists: the opaque keyset cursor (newest first by UUIDv7 id).
import { cursorCodec, cursorValues } from "@careforall/http";

const cursor = cursorCodec(
  "pledges",
  (v: unknown): v is [string] => Array.isArray(v) && v.length === 1 && cursorValues.uuid(v[0]),
);

/** The cursor names the last id of the page; the next page holds the ids below it. */
export function encodeListCursor(lastId: string): string {
  return cursor.encode([lastId]);
}

/** The id to continue below, undefined for the first page; a cursor we did not issue → 400. */
export function decodeListCursor(value: string | undefined): string | undefined {
  return cursor.decode(value)?.[0].toLowerCase();
}

/** Splits a fetched page of limit + 1 rows into the page and the next cursor. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? encodeListCursor(last.id) : null };
}
