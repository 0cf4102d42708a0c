// Every event that crosses a service boundary, with its payload schema: producers and
// consumers import the same definition, so a field rename fails type-checking on both sides.
import { defineEvent, type EventEnvelope } from "@careforall/bus";
import { type Static, Type } from "@sinclair/typebox";

export const Currency = Type.Union([Type.Literal("BDT"), Type.Literal("USD"), Type.Literal("EUR")]);
export type Currency = Static<typeof Currency>;

export const UserRegistered = defineEvent(
  "user.registered",
  Type.Object({
    userId: Type.String(),
    email: Type.String(),
    name: Type.String(),
    role: Type.Union([Type.Literal("donor"), Type.Literal("admin")]),
  }),
);

/** The public Campaign shape plus a monotonically increasing `version` for ordering snapshots. */
export const CampaignSnapshot = Type.Object({
  id: Type.String(),
  ownerId: Type.String(),
  title: Type.String(),
  description: Type.String(),
  goalMinor: Type.Integer(),
  currency: Currency,
  status: Type.Union([Type.Literal("active"), Type.Literal("closed")]),
  raisedMinor: Type.Integer(),
  donorCount: Type.Integer(),
  pledgeCount: Type.Integer(),
  endsAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  version: Type.Integer(),
});
export type CampaignSnapshot = Static<typeof CampaignSnapshot>;

export const CampaignCreated = defineEvent("campaign.created", CampaignSnapshot);
export const CampaignUpdated = defineEvent("campaign.updated", CampaignSnapshot);
/** Emitted after totals move (money path); carries the full snapshot so caches need no read-back. */
export const CampaignTotalsChanged = defineEvent("campaign.totals_changed", CampaignSnapshot);

export type UserRegisteredEvent = EventEnvelope<Static<typeof UserRegistered.schema>, "user.registered">;
export type CampaignEvent = EventEnvelope<
  CampaignSnapshot,
  "campaign.created" | "campaign.updated" | "campaign.totals_changed"
>;
