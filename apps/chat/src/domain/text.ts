// Message text rules — pure. API.md says 1..2000 *characters*: counted as Unicode code points
// (what a person counts: "দান" is 3, an emoji is 1), not UTF-16 units (an emoji would be 2) nor
// bytes. PostgreSQL's char_length counts the same way, so the table's check agrees with this one.
// NUL and lone surrogates never get here: httpKit refuses them for every field (400).

export const TEXT_MIN = 1;
export const TEXT_MAX = 2000;
/** The schema's bound in UTF-16 units: no text of at most TEXT_MAX code points is longer. */
export const TEXT_MAX_UTF16 = TEXT_MAX * 2;

/** Code points in `text` (a lone surrogate, refused earlier anyway, would count as one). */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Null when the text fits, else what is wrong with it, for a 400 naming `text`. */
export function textProblem(text: string): string | null {
  const n = codePoints(text);
  if (n < TEXT_MIN) return `Must be at least ${TEXT_MIN} character`;
  if (n > TEXT_MAX) return `Must be at most ${TEXT_MAX} characters (Unicode code points); this text has ${n}`;
  return null;
}
