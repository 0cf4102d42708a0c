// Pure campaign rules: who may change a campaign, which status transitions exist, and what a
// valid patch is. No I/O; time comes in as an argument (invariant 6: owner or admin only).
import { badRequest, conflict, forbidden, type Principal } from "@careforall/http";

export type CampaignStatus = "active" | "closed";

export type Actor = Pick<Principal, "id" | "role">;

/** The part of a campaign the rules look at. */
export interface CampaignState {
  ownerId: string;
  status: CampaignStatus;
  /** Pledges stop at this instant and the sweeper closes the campaign; null: open-ended. */
  endsAt?: Date | null | undefined;
}

export interface CampaignPatch {
  title?: string | undefined;
  description?: string | undefined;
  goalMinor?: number | undefined;
  endsAt?: string | null | undefined;
}

/** A validated patch, ready to write: only the fields that were sent, times parsed. */
export interface CampaignChanges {
  title?: string;
  description?: string;
  goalMinor?: number;
  endsAt?: Date | null;
}

export type CloseDecision = "close" | "already-closed";

/** Invariant 6: only a campaign's owner or an admin changes it. */
export function mayChange(actor: Actor, campaign: CampaignState): boolean {
  return actor.role === "admin" || actor.id === campaign.ownerId;
}

function assertMayChange(actor: Actor, campaign: CampaignState): void {
  if (!mayChange(actor, campaign)) throw forbidden("Only the campaign's owner or an administrator may change it");
}

/** Whether the end time has been reached at `now` (a campaign ends AT endsAt), closed or not yet. */
export function hasEnded(campaign: Pick<CampaignState, "endsAt">, now: Date): boolean {
  return campaign.endsAt != null && campaign.endsAt.getTime() <= now.getTime();
}

/**
 * An update is allowed for the owner or an admin, and only while the campaign is active and has
 * not reached its end: an ended campaign waiting for the sweeper cannot be reopened by moving endsAt.
 */
export function authorizeUpdate(actor: Actor, campaign: CampaignState, now: Date): void {
  assertMayChange(actor, campaign);
  if (campaign.status === "closed")
    throw conflict("The campaign is closed and can no longer be changed", "campaign-closed");
  if (hasEnded(campaign, now)) throw conflict("The campaign has ended and can no longer be changed", "campaign-ended");
}

/** active → closed; closing a closed campaign is an idempotent no-op. */
export function decideClose(actor: Actor, campaign: CampaignState): CloseDecision {
  assertMayChange(actor, campaign);
  return campaign.status === "closed" ? "already-closed" : "close";
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 date-time strictly (no rolling 30 February into March); null when invalid. */
export function parseInstant(value: string): Date | null {
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return null;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** An end time must be a real instant strictly after `now`. */
export function validateEndsAt(value: string, now: Date): Date {
  const date = parseInstant(value);
  if (!date)
    throw badRequest("endsAt is not a valid date-time", [
      { path: "endsAt", message: "Expected an RFC 3339 date-time" },
    ]);
  if (date.getTime() <= now.getTime()) {
    throw badRequest("endsAt must be in the future", [{ path: "endsAt", message: "Must be in the future" }]);
  }
  return date;
}

/** A patch changes at least one field; a new end time lies in the future (null removes it). */
export function validatePatch(patch: CampaignPatch, now: Date): CampaignChanges {
  const changes: CampaignChanges = {};
  if (patch.title !== undefined) changes.title = patch.title;
  if (patch.description !== undefined) changes.description = patch.description;
  if (patch.goalMinor !== undefined) changes.goalMinor = patch.goalMinor;
  if (patch.endsAt !== undefined) changes.endsAt = patch.endsAt === null ? null : validateEndsAt(patch.endsAt, now);
  if (Object.keys(changes).length === 0) {
    throw badRequest("Send at least one of title, description, goalMinor, endsAt", [
      { path: "body", message: "Expected at least one field to change" },
    ]);
  }
  return changes;
}
