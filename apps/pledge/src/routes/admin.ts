// Admin routes: every pledge by status, and the ledger the audit compares with campaign totals
// and the bank (not a hot path: it aggregates pledge rows on request).
import { Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { PledgeModel } from "../model";
import type { PledgeRoutesDeps } from "./pledges";

const detail = (summary: string) => ({ tags: ["admin"], summary });

export function adminRoutes({ service, guard }: PledgeRoutesDeps) {
  return new Elysia({ prefix: "/admin" })
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .get("/pledges", ({ query }) => service.listAll(query), {
      admin: true,
      query: PledgeModel.AdminListQuery,
      response: { 200: PledgeModel.PledgePage, 400: Problem, 401: Problem, 403: Problem },
      detail: detail("All pledges, newest first, optionally by status"),
    })
    .get("/ledger", () => service.ledger(), {
      admin: true,
      response: { 200: PledgeModel.Ledger, 401: Problem, 403: Problem },
      detail: detail("Captured money per campaign and pledges stuck past the grace period (feeds the audit)"),
    });
}
