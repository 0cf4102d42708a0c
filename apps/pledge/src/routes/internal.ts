// Service-to-service routes, never mapped by the gateway as they are: the captured pledges of a
// campaign (the read-model rebuild) and the ledger the gateway's periodic money audit reads.
import { type authGuard, IdParams, ListQuery, Problem, serviceCallers } from "@careforall/http";
import { Elysia, t } from "elysia";
import { PledgeModel } from "../model";
import type { PledgeService } from "../service";

export function internalRoutes({ service, guard }: { service: PledgeService; guard: ReturnType<typeof authGuard> }) {
  return (
    new Elysia()
      .use(serviceCallers)
      .use(guard)
      // Donors' names and keys of a whole campaign: an operator's read (gateway, for an admin).
      .get("/campaigns/:id/captured", ({ params, query }) => service.listCaptured(params.id, query), {
        callers: ["gateway"],
        admin: true,
        params: IdParams,
        query: t.Object({ ...ListQuery }),
        response: { 200: PledgeModel.CapturedPage, 400: Problem },
        detail: { tags: ["internal"], summary: "Captured pledges of a campaign, oldest first (read-model rebuild)" },
      })
      // The gateway's periodic audit runs on its own, for no user.
      .get("/ledger", () => service.ledger(), {
        callers: ["gateway"],
        response: { 200: PledgeModel.Ledger },
        detail: {
          tags: ["internal"],
          summary: "The audit's pledge side, for the gateway's periodic audit (not public)",
        },
      })
  );
}
