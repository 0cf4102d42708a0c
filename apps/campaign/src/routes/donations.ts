// Donations read model routes: the public list of captured donations, and the admin rebuild
// that resets a campaign's totals from the pledge records.
import { type authGuard, IdParams, Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { CampaignModel, DonationModel } from "../model";
import type { TotalsService } from "../totals";

const detail = (summary: string) => ({ tags: ["campaigns"], summary });

export function donationRoutes({ totals, guard }: { totals: TotalsService; guard: ReturnType<typeof authGuard> }) {
  // Only the gateway calls (the rebuild for an administrator).
  return new Elysia({ prefix: "/campaigns" })
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .get("/:id/donations", ({ params, query }) => totals.listDonations(params.id, query), {
      params: IdParams,
      query: DonationModel.DonationsQuery,
      response: { 200: DonationModel.DonationPage, 400: Problem, 404: Problem },
      detail: detail("Captured donations, newest first (donorName null when anonymous)"),
    })
    .post("/:id/rebuild", ({ params, body }) => totals.rebuild(params.id, body.pledges), {
      admin: true,
      params: IdParams,
      body: DonationModel.RebuildBody,
      response: { 200: CampaignModel.Campaign, 400: Problem, 401: Problem, 403: Problem, 404: Problem },
      detail: detail("Internal (admin): recompute totals and donations from the pledge records"),
    });
}
