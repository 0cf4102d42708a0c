// A campaign's form as its owner fills it (start or edit): the draft as typed, its checks before
// anything is sent (the API's own limits, said in words), and the bodies for POST /api/campaigns and
// PATCH /api/campaigns/:id (only what changed). The end is a day: the campaign ends at the end of it,
// in the owner's own time zone.
import { formatMoney, parseAmount, toDecimalString } from "./money";

export const CURRENCIES = ["BDT", "USD", "EUR"] as const;
export type Currency = (typeof CURRENCIES)[number];

export const TITLE_MAX = 120;
export const DESCRIPTION_MAX = 5000;
export const GOAL_MIN_MINOR = 100;
export const GOAL_MAX_MINOR = 1_000_000_000_000;

export interface CampaignDraft {
  title: string;
  description: string;
  /** The goal as typed, in major units of `currency` ("5,000", "250.50"). */
  goalText: string;
  currency: Currency;
  /** "YYYY-MM-DD" (an <input type="date">), "" for no end. */
  endsOn: string;
}

export interface CampaignLike {
  title: string;
  description: string;
  goalMinor: number;
  currency: string;
  endsAt: string | null;
}

/** Field → message, keyed by the API's field names (title, description, goalMinor, currency, endsAt). */
export type FormErrors = Record<string, string>;

export function emptyDraft(currency: Currency = "BDT"): CampaignDraft {
  return { title: "", description: "", goalText: "", currency, endsOn: "" };
}

/** The form filled from a campaign (the edit screen). */
export function draftFrom(c: CampaignLike): CampaignDraft {
  return {
    title: c.title,
    description: c.description,
    goalText: toDecimalString(c.goalMinor, c.currency),
    currency: (CURRENCIES as readonly string[]).includes(c.currency) ? (c.currency as Currency) : "BDT",
    endsOn: c.endsAt ? localDay(new Date(c.endsAt)) : "",
  };
}

/** A date as "YYYY-MM-DD" in the local time zone. */
export function localDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The last second of a local day, as an ISO instant; null when the text is not a real date. */
export function endOfDay(day: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const at = new Date(y, mo - 1, d, 23, 59, 59);
  if (at.getFullYear() !== y || at.getMonth() !== mo - 1 || at.getDate() !== d) return null;
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function goalMinor(draft: CampaignDraft): number | null {
  return parseAmount(draft.goalText, draft.currency);
}

/**
 * What is wrong with the draft, field by field (empty: good to send). `original` is the campaign being
 * edited: an end it already has may stay as it is even if that day is today.
 */
export function validateCampaign(draft: CampaignDraft, now: Date, original?: CampaignLike): FormErrors {
  const out: FormErrors = {};
  const title = draft.title.trim();
  if (title.length < 3) out.title = "A title of at least 3 characters";
  else if (title.length > TITLE_MAX) out.title = `Keep the title to ${TITLE_MAX} characters`;
  if (draft.description.length > DESCRIPTION_MAX)
    out.description = `Keep the story to ${DESCRIPTION_MAX.toLocaleString("en")} characters`;
  const goal = goalMinor(draft);
  if (goal === null)
    out.goalMinor = `Enter the goal in ${draft.currency}, like ${toDecimalString(500_000, draft.currency)}`;
  else if (goal < GOAL_MIN_MINOR)
    out.goalMinor = `The goal must be at least ${formatMoney(GOAL_MIN_MINOR, draft.currency)}`;
  else if (goal > GOAL_MAX_MINOR)
    out.goalMinor = `The goal can be at most ${formatMoney(GOAL_MAX_MINOR, draft.currency, { compact: true })}`;
  if (!original && !(CURRENCIES as readonly string[]).includes(draft.currency)) out.currency = "Choose BDT, USD or EUR";
  const unchangedEnd = original && draft.endsOn === (original.endsAt ? localDay(new Date(original.endsAt)) : "");
  if (draft.endsOn && !unchangedEnd) {
    const end = endOfDay(draft.endsOn);
    if (!end) out.endsAt = "A date, like 2030-12-31";
    else if (new Date(end).getTime() <= now.getTime()) out.endsAt = "The end must be in the future";
  }
  return out;
}

export interface CreateBody {
  title: string;
  description: string;
  goalMinor: number;
  currency: Currency;
  endsAt?: string;
}

export function createBody(draft: CampaignDraft): CreateBody {
  const end = draft.endsOn ? endOfDay(draft.endsOn) : null;
  return {
    title: draft.title.trim(),
    description: draft.description.trim(),
    goalMinor: goalMinor(draft) ?? 0,
    currency: draft.currency,
    ...(end ? { endsAt: end } : {}),
  };
}

export interface PatchBody {
  title?: string;
  description?: string;
  goalMinor?: number;
  endsAt?: string | null;
}

/** Only the fields that changed (the API wants at least one: an empty patch is not sent). */
export function patchBody(draft: CampaignDraft, original: CampaignLike): PatchBody {
  const out: PatchBody = {};
  const next = createBody(draft);
  if (next.title !== original.title) out.title = next.title;
  if (next.description !== original.description.trim()) out.description = next.description;
  if (next.goalMinor !== original.goalMinor) out.goalMinor = next.goalMinor;
  const before = original.endsAt ? localDay(new Date(original.endsAt)) : "";
  if (draft.endsOn !== before) out.endsAt = next.endsAt ?? null;
  return out;
}
