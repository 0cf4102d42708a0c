// Service-to-service routes, never mapped by the gateway as they are: the captured pledges of a
// campaign (the read-model rebuild) and the ledger the gateway's periodic money audit reads.
import { IdParams, ListQuery, Problem } from "@careforall/http";
import { Elysia, t } from "elysia";
import { PledgeModel } from "../model";
import type { PledgeService } from "../service";

export function internalRoutes({ service }: { service: PledgeService }) {
  return new Elysia()
    .get("/campaigns/:id/captured", ({ params, query }) => service.listCaptured(params.id, query), {
      params: IdParams,
      query: t.Object({ ...ListQuery }),
      response: { 200: PledgeModel.CapturedPage, 400: Problem },
      detail: { tags: ["internal"], summary: "Captured pledges of a campaign, oldest first (read-model rebuild)" },
    })
    .get("/ledger", () => service.ledger(), {
      response: { 200: PledgeModel.Ledger },
      detail: { tags: ["internal"], summary: "The audit's pledge side, for the gateway's periodic audit (not public)" },
    });
}
