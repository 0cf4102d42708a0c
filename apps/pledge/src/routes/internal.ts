// Service-to-service routes, never mapped by the gateway: the captured pledges of a campaign, so
// the campaign service can rebuild its totals and donations list from the source of truth.
import { IdParams, ListQuery, Problem } from "@careforall/http";
import { Elysia, t } from "elysia";
import { PledgeModel } from "../model";
import type { PledgeService } from "../service";

export function internalRoutes({ service }: { service: PledgeService }) {
  return new Elysia().get("/campaigns/:id/captured", ({ params, query }) => service.listCaptured(params.id, query), {
    params: IdParams,
    query: t.Object({ ...ListQuery }),
    response: { 200: PledgeModel.CapturedPage, 400: Problem },
    detail: { tags: ["internal"], summary: "Captured pledges of a campaign, oldest first (read-model rebuild)" },
  });
}
