// The live frames notification publishes and the fan-out topics they go on, exactly as the
// realtime contract (API.md "Real time") gives them, so the gateway forwards the text verbatim.
import type { PledgeStatus } from "@careforall/events";
import { ADMINS, type NotificationKind } from "./texts";

export const topics = {
  campaign: (campaignId: string) => `campaign.${campaignId}`,
  user: (userId: string) => `user.${userId}`,
  pledge: (pledgeId: string) => `pledge.${pledgeId}`,
  admins: ADMINS,
} as const;

/** The first token of a topic, the label pushes are counted by. */
export type TopicKind = "campaign" | "user" | "pledge" | "admins";
export const topicKind = (topic: string): TopicKind => topic.split(".")[0] as TopicKind;

/** Where a stored notification is pushed: its user, or every admin. */
export const recipientTopic = (recipient: string) => (recipient === ADMINS ? topics.admins : topics.user(recipient));

export interface TotalsFrame {
  type: "campaign.totals";
  campaignId: string;
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
}

export interface PledgeStatusFrame {
  type: "pledge.status";
  pledgeId: string;
  campaignId: string;
  status: PledgeStatus;
  failureReason: string | null;
}

export interface NotificationFrame {
  type: "notification";
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  at: string;
  pledgeId?: string;
  campaignId?: string;
}

export type Frame = TotalsFrame | PledgeStatusFrame | NotificationFrame;

export interface Push {
  topic: string;
  frame: Frame;
}

export const totalsFrame = (c: {
  id: string;
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
}): TotalsFrame => ({
  type: "campaign.totals",
  campaignId: c.id,
  raisedMinor: c.raisedMinor,
  donorCount: c.donorCount,
  pledgeCount: c.pledgeCount,
});

/** A stored notification as its frame (API.md), optional ids left out when null. */
export function notificationFrame(n: {
  id: string;
  kind: string;
  title: string;
  body: string;
  at: Date;
  pledgeId: string | null;
  campaignId: string | null;
}): NotificationFrame {
  return {
    type: "notification",
    id: n.id,
    kind: n.kind as NotificationKind,
    title: n.title,
    body: n.body,
    at: n.at.toISOString(),
    ...(n.pledgeId ? { pledgeId: n.pledgeId } : {}),
    ...(n.campaignId ? { campaignId: n.campaignId } : {}),
  };
}
