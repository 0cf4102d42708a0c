// What each notification says: plain, short text naming the campaign and the amount in its
// currency. Pure, so every kind's wording is tested without a database.
import { formatAmount } from "./money";
import type { DonorNotifiedStatus } from "./pledge-status";

/** Every kind a notification can have: the donor kinds, then the operator kinds of API.md. */
export const DONOR_KINDS = ["pledge.captured", "pledge.failed", "pledge.refunded"] as const;
export const OPERATOR_KINDS = [
  "pledge.stuck",
  "audit.drift",
  "webhook.signature_failures",
  "campaign.goal_reached",
] as const;
export const NOTIFICATION_KINDS = [...DONOR_KINDS, ...OPERATOR_KINDS] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The recipient of the operator kinds: every admin. */
export const ADMINS = "admins";

export interface Text {
  title: string;
  body: string;
}

/** A campaign as texts name it; unknown when its events have not reached this service (yet). */
export type CampaignName = string | null;

const quoted = (title: CampaignName) => (title === null ? "a campaign" : `“${title}”`);

/** Failure reasons (bank and payment codes) in words; an unknown code gets the general sentence. */
const FAILURE_WORDS: Record<string, string> = {
  declined: "the bank declined the payment",
  insufficient_funds: "the account did not have enough funds",
  invalid_source: "the paying account could not be verified",
  invalid_grant: "the paying account could not be verified",
  currency_mismatch: "the currency did not match the campaign's",
  unknown_campaign: "the campaign could not receive payments",
  bank_rejected: "the bank refused the payment",
};

export function describeFailure(reason: string | null): string {
  return (reason !== null && FAILURE_WORDS[reason]) || "the payment could not be completed";
}

export interface PledgeFacts {
  status: DonorNotifiedStatus;
  amountMinor: number;
  currency: string;
  campaignTitle: CampaignName;
  failureReason: string | null;
}

/** The donor's notification for a captured, failed or refunded pledge. */
export function donorText(p: PledgeFacts): Text {
  const amount = formatAmount(p.amountMinor, p.currency);
  const campaign = quoted(p.campaignTitle);
  switch (p.status) {
    case "captured":
      return { title: "Thank you for your donation", body: `Your donation of ${amount} to ${campaign} was received.` };
    case "failed":
      return {
        title: "Your donation did not go through",
        body: `Your donation of ${amount} to ${campaign} failed: ${describeFailure(p.failureReason)}. You were not charged.`,
      };
    case "refunded":
      return { title: "Your donation was refunded", body: `Your donation of ${amount} to ${campaign} was refunded.` };
  }
}

export function stuckText(p: {
  pledgeId: string;
  status: string;
  amountMinor: number;
  currency: string;
  campaignTitle: CampaignName;
  since: Date;
  graceSeconds: number;
}): Text {
  return {
    title: "Pledge stuck",
    body:
      `Pledge ${p.pledgeId} of ${formatAmount(p.amountMinor, p.currency)} to ${quoted(p.campaignTitle)} ` +
      `has been ${p.status} since ${p.since.toISOString()}, longer than the ${p.graceSeconds} s grace period.`,
  };
}

export function driftText(a: { totalDriftMinor: number; campaigns: number; checkedAt: string }): Text {
  const where = a.campaigns === 1 ? "1 campaign" : `${a.campaigns} campaigns`;
  return {
    title: "Audit drift persists",
    body:
      `Two audits in a row found the totals, pledges and bank disagreeing: ${a.totalDriftMinor} minor units ` +
      `of drift across ${where} (last checked ${a.checkedAt}).`,
  };
}

export function signatureFailuresText(f: {
  failures: number;
  windowSeconds: number;
  firstAt: string;
  lastAt: string;
}): Text {
  return {
    title: "Webhook signatures rejected",
    body:
      `${f.failures} bank webhook calls with a bad or missing signature within ${f.windowSeconds} s ` +
      `(first ${f.firstAt}, last ${f.lastAt}).`,
  };
}

export function goalReachedText(c: { title: string; raisedMinor: number; goalMinor: number; currency: string }): Text {
  return {
    title: "Goal reached",
    body:
      `${quoted(c.title)} reached its goal: ${formatAmount(c.raisedMinor, c.currency)} raised ` +
      `of ${formatAmount(c.goalMinor, c.currency)}.`,
  };
}
