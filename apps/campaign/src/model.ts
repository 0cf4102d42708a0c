// Campaign HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types and the OpenAPI document.
import { Int, ListQuery, Page } from "@careforall/http";
import { t } from "elysia";

/** RFC 3339 with a time and an offset; Elysia's own "date-time" format also admits bare dates. */
const RFC3339 = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$";
const DateTime = (description: string) =>
  t.String({ format: "date-time", pattern: RFC3339, description, examples: ["2030-01-31T18:00:00Z"] });

const Currency = t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")], { description: "ISO-4217 code" });
const Status = t.Union([t.Literal("active"), t.Literal("closed")]);

/** A title must carry at least one visible character; three spaces are not a title. */
const Title = t.String({ minLength: 3, maxLength: 120, pattern: "\\S" });
const Description = t.String({ minLength: 0, maxLength: 5000 });
const GoalMinor = Int({ minimum: 100, maximum: 1_000_000_000_000, description: "Goal in minor units" });

export namespace CampaignModel {
  export const CreateCampaignBody = t.Object({
    title: Title,
    description: Description,
    goalMinor: GoalMinor,
    currency: Currency,
    endsAt: t.Optional(DateTime("When the campaign ends; must be in the future")),
  });
  export type CreateCampaignBody = typeof CreateCampaignBody.static;

  export const UpdateCampaignBody = t.Object(
    {
      title: t.Optional(Title),
      description: t.Optional(Description),
      goalMinor: t.Optional(GoalMinor),
      endsAt: t.Optional(
        t.Union([DateTime("New end, in the future"), t.Null()], { description: "null removes the end" }),
      ),
    },
    { minProperties: 1, description: "At least one field" },
  );
  export type UpdateCampaignBody = typeof UpdateCampaignBody.static;

  export const Campaign = t.Object({
    id: t.String({ format: "uuid" }),
    ownerId: t.String({ format: "uuid" }),
    title: t.String(),
    description: t.String(),
    goalMinor: Int(),
    currency: Currency,
    status: Status,
    raisedMinor: Int({ description: "Captured minus refunded pledges, minor units" }),
    donorCount: Int({ description: "Distinct donors with a captured pledge" }),
    pledgeCount: Int(),
    endsAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
    createdAt: t.String({ format: "date-time" }),
    updatedAt: t.String({ format: "date-time" }),
    version: Int({ minimum: 1, description: "Increases on every change; orders snapshots" }),
  });
  export type Campaign = typeof Campaign.static;

  export const ListCampaignsQuery = t.Object({
    status: t.Optional(Status),
    q: t.Optional(t.String({ minLength: 1, maxLength: 120, description: "Case-insensitive substring of the title" })),
    ...ListQuery,
  });
  export type ListCampaignsQuery = typeof ListCampaignsQuery.static;

  /** A signed-in owner's own campaigns (GET /api/me/campaigns): every status unless one is asked for. */
  export const MyCampaignsQuery = t.Object({ status: t.Optional(Status), ...ListQuery });
  export type MyCampaignsQuery = typeof MyCampaignsQuery.static;

  export const CampaignPage = Page(Campaign);
  export type CampaignPage = typeof CampaignPage.static;
}

export namespace DonationModel {
  export const Donation = t.Object({
    id: t.String({ description: "The pledge id" }),
    amountMinor: t.Integer(),
    currency: t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")]),
    donorName: t.Union([t.String(), t.Null()], { description: "Null when the donor chose to stay anonymous" }),
    message: t.Union([t.String(), t.Null()]),
    capturedAt: t.String({ format: "date-time" }),
  });
  export type Donation = typeof Donation.static;

  export const DonationPage = Page(Donation);
  export type DonationPage = typeof DonationPage.static;

  export const DonationsQuery = t.Object(ListQuery);
  export type DonationsQuery = typeof DonationsQuery.static;

  /** A captured pledge as the pledge service reports it, for rebuilding the read model. */
  export const CapturedPledge = t.Object({
    pledgeId: t.String(),
    donorKey: t.String(),
    amountMinor: Int({ minimum: 1 }),
    currency: t.Union([t.Literal("BDT"), t.Literal("USD"), t.Literal("EUR")]),
    donorName: t.Union([t.String(), t.Null()]),
    message: t.Union([t.String(), t.Null()]),
    capturedAt: t.String(),
  });
  export type CapturedPledge = typeof CapturedPledge.static;

  export const RebuildBody = t.Object({ pledges: t.Array(CapturedPledge, { maxItems: 100_000 }) });
  export type RebuildBody = typeof RebuildBody.static;
}
