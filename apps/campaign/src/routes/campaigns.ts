// Campaign routes (internal paths; the gateway maps /api/campaigns/... here through Eden).
// Each route declares its input and every response status, so Eden and OpenAPI see them all.
import { type authGuard, IdParams, Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { CampaignModel } from "../model";
import type { CampaignService } from "../service";

export interface CampaignRoutesDeps {
  service: CampaignService;
  /** The auth macro (`auth: true`), built once by the app from the public key. */
  guard: ReturnType<typeof authGuard>;
}

const detail = (summary: string) => ({ tags: ["campaigns"], summary });

export function campaignRoutes({ service, guard }: CampaignRoutesDeps) {
  // Only the gateway calls: the public API is its /api/campaigns.
  return new Elysia({ prefix: "/campaigns" })
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .get("", ({ query }) => service.list(query), {
      query: CampaignModel.ListCampaignsQuery,
      response: { 200: CampaignModel.CampaignPage, 400: Problem },
      detail: detail("List campaigns, newest first"),
    })
    .get("/mine", ({ query, principal }) => service.list({ ...query, ownerId: principal.id }), {
      auth: true,
      query: CampaignModel.MyCampaignsQuery,
      response: { 200: CampaignModel.CampaignPage, 400: Problem, 401: Problem },
      detail: detail("The caller's own campaigns, newest first"),
    })
    .get("/:id", ({ params }) => service.get(params.id), {
      params: IdParams,
      response: { 200: CampaignModel.Campaign, 400: Problem, 404: Problem },
      detail: detail("Get one campaign"),
    })
    .post("", async ({ body, principal, status }) => status(201, await service.create(principal, body)), {
      auth: true,
      parse: "json",
      body: CampaignModel.CreateCampaignBody,
      response: { 201: CampaignModel.Campaign, 400: Problem, 401: Problem, 413: Problem },
      detail: detail("Create a campaign; the caller becomes its owner"),
    })
    .patch("/:id", ({ params, body, principal }) => service.update(principal, params.id, body), {
      auth: true,
      parse: "json",
      params: IdParams,
      body: CampaignModel.UpdateCampaignBody,
      response: {
        200: CampaignModel.Campaign,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        409: Problem,
        413: Problem,
      },
      detail: detail("Change a campaign (owner or admin; not once closed)"),
    })
    .post("/:id/close", ({ params, principal }) => service.close(principal, params.id), {
      auth: true,
      params: IdParams,
      response: { 200: CampaignModel.Campaign, 400: Problem, 401: Problem, 403: Problem, 404: Problem },
      detail: detail("Close a campaign (owner or admin; closing twice is a no-op)"),
    });
}
