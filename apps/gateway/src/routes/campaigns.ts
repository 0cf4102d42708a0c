// /api/campaigns/* and /api/me/campaigns: the cached hot read, and list/create/update/close (and an
// owner's own list) forwarded to the campaign service through its Eden client (signed-in routes
// verify the token here first).
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
import { accessLogFor, type Logger } from "@careforall/log";
import { lightTraceIds, startServerSpan, tracingEnabled, withContext } from "@careforall/telemetry";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import type { SnapshotStore } from "../snapshots";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

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
/** No line is written (the access log is off): no ids to mint. */
const NO_IDS = { traceId: "", spanId: "" };

export function hotCampaignRead({ snapshots, log, metrics }: HotReadDeps) {
  const read = campaignReadHandler(snapshots);
  // Outside Elysia, so outside httpKit's access log: the same line, written here.
  const access = accessLogFor(log);
  const logged = (
    response: Response,
    requestId: string,
    started: number,
    span: { traceId: string; spanId: string },
  ): Response => {
    if (access.enabled)
      access.record(
        "GET",
        HOT_ROUTE,
        response.status,
        performance.now() - started,
        requestId,
        span.traceId,
        span.spanId,
      );
    return response;
  };
  function failed(err: unknown, requestId: string, started: number): Response {
    const problem = err instanceof AppError ? err : serviceUnavailable("Try again shortly");
    if (!(err instanceof AppError)) log.error({ err, requestId }, "campaign_read.failed");
    metrics.http.record("GET", HOT_ROUTE, problem.status, (performance.now() - started) / 1000);
    return problemResponse(problem.toProblem(), { ...SECURITY_HEADERS, ...problem.headers, "x-request-id": requestId });
  }
  // Not async on purpose: a snapshot held in memory is answered synchronously, with no promise
  // and no microtask; only a cold id (or an error) takes the asynchronous path.
  function answer(
    request: Request & { params: { id: string } },
    requestId: string,
    started: number,
    span: { traceId: string; spanId: string },
  ): Response | Promise<Response> {
    const served = snapshots.serve(request.params.id, request, requestId);
    if (served instanceof Response) return logged(served, requestId, started, span);
    return read(request, request.params.id, requestId, served)
      .catch((err) => failed(err, requestId, started))
      .then((response) => logged(response, requestId, started, span));
  }
  /** While spans are recorded (an OTLP endpoint is set): the read as a SERVER span, a miss's origin call inside it. */
  function traced(request: Request & { params: { id: string } }, requestId: string, started: number) {
    const server = startServerSpan(
      `GET ${HOT_ROUTE}`,
      request.headers,
      { "http.request.method": "GET", "http.route": HOT_ROUTE },
      requestId,
    );
    const end = (response: Response): Response => {
      server.span.setAttribute("http.response.status_code", response.status);
      server.span.end();
      return response;
    };
    const out = withContext(server.context, () => answer(request, requestId, started, server.span.spanContext()));
    return out instanceof Response ? end(out) : out.then(end);
  }
  return (request: Request & { params: { id: string } }): Response | Promise<Response> => {
    const started = performance.now();
    const requestId = requestIdFor(request);
    // Nothing exports spans: the read pays this one test and two ids for its log line, not a span.
    if (tracingEnabled()) return traced(request, requestId, started);
    return answer(
      request,
      requestId,
      started,
      access.enabled ? lightTraceIds(request.headers.get("traceparent")) : NO_IDS,
    );
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
        detail: operation({
          id: "listCampaigns",
          tag: "campaigns",
          summary: "List campaigns, newest first",
          description:
            "Filter by `status` (`active` or `closed`) and search titles with `q` (case-insensitive, `%` and `_` " +
            "taken literally). Page with the previous page's `nextCursor` as `cursor`; a cursor this list did " +
            "not issue is a `400`.",
          access: "public",
          responseExample: examples.page(examples.campaign),
        }),
      },
    )
    .get(
      "/api/me/campaigns",
      async ({ query, requestId, headers }) => {
        const res = await call(
          log,
          "campaign",
          campaign.campaigns.mine.get({ query, headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as CampaignModel.CampaignPage;
      },
      {
        auth: true,
        query: CampaignModel.MyCampaignsQuery,
        response: { 200: CampaignModel.CampaignPage, 400: Problem, 401: Problem },
        detail: operation({
          id: "listMyCampaigns",
          tag: "campaigns",
          summary: "Your campaigns, newest first",
          description:
            "The campaigns the signed-in user started, active and closed (or one `status`). Page with `cursor` as " +
            "for every list. Personal, so never cached, unlike `GET /api/campaigns`.",
          access: "bearer",
          responseExample: examples.page(examples.campaign),
        }),
      },
    )
    .get("/api/campaigns/:id", ({ request, params, requestId }) => read(request, params.id, requestId), {
      params: IdParams,
      headers: t.Object(
        {
          "if-none-match": t.Optional(
            t.String({ maxLength: 1_000, description: 'The ETag of a copy you hold ("v12"): 304 while it is current' }),
          ),
        },
        { additionalProperties: true },
      ),
      response: {
        200: CampaignModel.Campaign,
        304: t.Void({ description: "Not modified (ETag matched If-None-Match)" }),
        400: Problem,
        404: Problem,
      },
      detail: operation({
        id: "getCampaign",
        tag: "campaigns",
        summary: "One campaign, with its live totals",
        description:
          "Served from the gateway's snapshot, kept current by the campaign's events (totals move within moments " +
          "of a capture). The answer's `ETag` sent back as `If-None-Match` gets a `304` while nothing changed. " +
          "An id in upper case reads the same campaign.",
        access: "public",
        responseExample: examples.campaign,
        headers: { 200: ["ETag"], 304: ["ETag"] },
      }),
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
        detail: operation({
          id: "listDonations",
          tag: "campaigns",
          summary: "A campaign's donations, newest first",
          description:
            "Captured, unrefunded donations with the donor's name and message; `donorName` is null when the donor " +
            "chose to stay anonymous. Page with `cursor` as for campaigns; an unknown campaign is a `404`.",
          access: "public",
          responseExample: examples.page(examples.donation),
        }),
      },
    )
    .post(
      "/api/campaigns",
      async ({ body, requestId, headers, set, status }) => {
        const res = await call(
          log,
          "campaign",
          campaign.campaigns.post(body, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        const created = res.data as CampaignModel.Campaign;
        set.headers.location = `/api/campaigns/${created.id}`;
        return status(201, created);
      },
      {
        auth: true,
        body: CampaignModel.CreateCampaignBody,
        response: { 201: CampaignModel.Campaign, 400: Problem, 401: Problem, 413: Problem },
        detail: operation({
          id: "createCampaign",
          tag: "campaigns",
          summary: "Start a campaign",
          description:
            "The caller becomes its owner. `goalMinor` is in minor units of `currency`, which every pledge to it " +
            "must use; `endsAt`, when given, must be in the future.",
          access: "bearer",
          requestExample: examples.createCampaign,
          responseExample: examples.campaign,
          headers: { 201: ["Location"] },
        }),
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
        detail: operation({
          id: "updateCampaign",
          tag: "campaigns",
          summary: "Change a campaign's title, story, goal or end",
          description:
            "Its owner or an admin (anyone else: `403`). Send only the fields to change; `endsAt: null` removes " +
            "the end. A closed campaign cannot change (`409`), nor one whose `endsAt` has been reached, even before " +
            "it reads `closed` (`409`, `campaign-ended`): an end cannot be moved once passed. The currency never changes.",
          access: "bearer",
          requestExample: examples.updateCampaign,
          responseExample: examples.campaign,
        }),
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
        detail: operation({
          id: "closeCampaign",
          tag: "campaigns",
          summary: "Close a campaign to new pledges",
          description:
            "Its owner or an admin. Pledges already accepted still complete; new ones get `409`. Closing a closed " +
            "campaign is a harmless `200`.",
          access: "bearer",
          responseExample: { ...examples.campaign, status: "closed" },
        }),
      },
    );
}
