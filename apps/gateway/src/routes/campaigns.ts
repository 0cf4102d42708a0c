// /api/campaigns/*: the cached hot read, and list/create/update/close forwarded to the campaign
// service through its Eden client (signed-in routes verify the token here first).
import type { CampaignApp } from "@careforall/campaign";
import { CampaignModel, DonationModel } from "@careforall/campaign";
import {
  AppError,
  badRequest,
  type HttpMetrics,
  IdParams,
  notFound,
  Problem,
  problemResponse,
  requestIdFor,
  SECURITY_HEADERS,
  serviceUnavailable,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import type { SnapshotStore } from "../snapshots";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

const detail = (summary: string, secured = false) => ({
  tags: ["campaigns"],
  summary,
  ...(secured ? { security: [{ bearer: [] }] } : {}),
});

const HOT_ROUTE = "/api/campaigns/:id";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CampaignRoutesDeps {
  campaign: Treaty.Create<CampaignApp>;
  snapshots: SnapshotStore;
  log: Logger;
  context: GatewayContext;
}

/**
 * The hot read as a plain fetch handler, so main.ts can also mount it as a Bun native route
 * (no framework hooks on the hot path). Misses and errors become problem responses via throw.
 */
export function campaignReadHandler(snapshots: SnapshotStore) {
  return async (
    request: Request & { params?: { id?: string } },
    id = request.params?.id ?? "",
    requestId?: string,
    /** The result of a `snapshots.serve` the caller already started, so it is not asked twice. */
    started: ReturnType<SnapshotStore["serve"]> = snapshots.serve(id, request, requestId),
  ) => {
    const response = started instanceof Promise ? await started : started;
    if (response) return response;
    if (!UUID.test(id)) throw badRequest("id: Expected a UUID", [{ path: "id", message: "Expected a UUID" }]);
    throw notFound("No campaign with this id");
  };
}

export interface HotReadDeps {
  snapshots: SnapshotStore;
  log: Logger;
  metrics: HttpMetrics;
}

/**
 * GET /api/campaigns/:id as main.ts mounts it, a Bun native route outside Elysia's hooks. What
 * httpKit would do is done here: one request id for the whole request, problem+json (an
 * unexpected failure is a 503 without internals) with the security headers, and every outcome
 * counted under the route template (the snapshot store counts its own 200 and 304).
 */
export function hotCampaignRead({ snapshots, log, metrics }: HotReadDeps) {
  const read = campaignReadHandler(snapshots);
  function failed(err: unknown, requestId: string, started: number): Response {
    const problem = err instanceof AppError ? err : serviceUnavailable("Try again shortly");
    if (!(err instanceof AppError)) log.error({ err, requestId }, "campaign_read.failed");
    metrics.http.record("GET", HOT_ROUTE, problem.status, (performance.now() - started) / 1000);
    return problemResponse(problem.toProblem(), { ...SECURITY_HEADERS, ...problem.headers, "x-request-id": requestId });
  }
  // Not async on purpose: a snapshot held in memory is answered synchronously, with no promise
  // and no microtask; only a cold id (or an error) takes the asynchronous path.
  return (request: Request & { params: { id: string } }): Response | Promise<Response> => {
    const started = performance.now();
    const requestId = requestIdFor(request);
    const served = snapshots.serve(request.params.id, request, requestId);
    if (served instanceof Response) return served;
    return read(request, request.params.id, requestId, served).catch((err) => failed(err, requestId, started));
  };
}

export function campaignRoutes({ campaign, snapshots, log, context }: CampaignRoutesDeps) {
  const read = campaignReadHandler(snapshots);
  return new Elysia({ name: "gateway-campaign-routes" })
    .use(context)
    .get(
      "/api/campaigns",
      async ({ query, requestId }) => {
        const res = await call(log, "campaign", campaign.campaigns.get({ query, headers: upstreamHeaders(requestId) }));
        return res.data as CampaignModel.CampaignPage;
      },
      {
        query: CampaignModel.ListCampaignsQuery,
        response: { 200: CampaignModel.CampaignPage, 400: Problem },
        detail: detail("List campaigns, newest first (cursor pagination, `q` title search, `status` filter)"),
      },
    )
    .get("/api/campaigns/:id", ({ request, params, requestId }) => read(request, params.id, requestId), {
      params: IdParams,
      response: {
        200: CampaignModel.Campaign,
        304: t.Void({ description: "Not modified (ETag matched If-None-Match)" }),
        400: Problem,
        404: Problem,
      },
      detail: {
        ...detail("Get one campaign (cached snapshot with ETag; If-None-Match → 304)"),
      },
    })
    .get(
      "/api/campaigns/:id/donations",
      async ({ params, query, requestId }) => {
        const res = await call(
          log,
          "campaign",
          campaign.campaigns({ id: params.id }).donations.get({ query, headers: upstreamHeaders(requestId) }),
        );
        return res.data as DonationModel.DonationPage;
      },
      {
        params: IdParams,
        query: DonationModel.DonationsQuery,
        response: { 200: DonationModel.DonationPage, 400: Problem, 404: Problem },
        detail: detail("Captured donations, newest first (donorName is null when the donor chose anonymity)"),
      },
    )
    .post(
      "/api/campaigns",
      async ({ body, requestId, headers, status }) => {
        const res = await call(
          log,
          "campaign",
          campaign.campaigns.post(body, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return status(201, res.data as CampaignModel.Campaign);
      },
      {
        auth: true,
        body: CampaignModel.CreateCampaignBody,
        response: { 201: CampaignModel.Campaign, 400: Problem, 401: Problem, 413: Problem },
        detail: detail("Create a campaign; the caller becomes its owner", true),
      },
    )
    .patch(
      "/api/campaigns/:id",
      async ({ params, body, requestId, headers }) => {
        const res = await call(
          log,
          "campaign",
          campaign
            .campaigns({ id: params.id })
            .patch(body, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        const updated = res.data as CampaignModel.Campaign;
        await snapshots.apply(updated);
        return updated;
      },
      {
        auth: true,
        params: IdParams,
        body: CampaignModel.UpdateCampaignBody,
        response: { 200: CampaignModel.Campaign, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem },
        detail: detail("Change title, description, goal or end date (owner or admin)", true),
      },
    )
    .post(
      "/api/campaigns/:id/close",
      async ({ params, requestId, headers }) => {
        const res = await call(
          log,
          "campaign",
          campaign.campaigns({ id: params.id }).close.post(undefined, {
            headers: upstreamHeaders(requestId, headers.authorization),
          }),
        );
        const closed = res.data as CampaignModel.Campaign;
        await snapshots.apply(closed);
        return closed;
      },
      {
        auth: true,
        params: IdParams,
        response: { 200: CampaignModel.Campaign, 400: Problem, 401: Problem, 403: Problem, 404: Problem },
        detail: detail("Close a campaign to new pledges (owner or admin)", true),
      },
    );
}
