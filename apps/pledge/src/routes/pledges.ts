// Donor-facing pledge routes (internal paths; the gateway maps /api/... here through Eden).
// Each route declares its input and every response status, so Eden and OpenAPI see them all.
import { type authGuard, IdParams, Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { PledgeModel } from "../model";
import type { PledgeService } from "../service";

export interface PledgeRoutesDeps {
  service: PledgeService;
  /** The auth macros (`auth`, `admin`, `optionalAuth`), built once by the app from the public key. */
  guard: ReturnType<typeof authGuard>;
}

const detail = (summary: string, description?: string) => ({
  tags: ["pledges"],
  summary,
  ...(description ? { description } : {}),
});

export function pledgeRoutes({ service, guard }: PledgeRoutesDeps) {
  // Only the gateway calls: it alone sets the x-donor-* headers, from the token it verified.
  return new Elysia()
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .post(
      "/campaigns/:id/pledges",
      async ({ params, body, headers, viewer, set, status }) => {
        const result = await service.create({
          campaignId: params.id,
          idempotencyKey: headers["idempotency-key"],
          body,
          viewer,
          donorBankAccount: headers["x-donor-bank-account"],
          donorName: headers["x-donor-name"],
        });
        if (result.replayed) set.headers["idempotent-replayed"] = "true";
        return status(202, result.body);
      },
      {
        optionalAuth: true,
        parse: "json",
        params: IdParams,
        headers: PledgeModel.CreatePledgeHeaders,
        body: PledgeModel.CreatePledgeBody,
        response: {
          202: PledgeModel.CreatedPledge,
          400: Problem,
          401: Problem,
          402: Problem,
          404: Problem,
          409: Problem,
          413: Problem,
          422: Problem,
          503: Problem,
        },
        detail: detail(
          "Pledge to a campaign (signed in, or a guest with donor and source)",
          "Requires Idempotency-Key. The same key and body replay the first answer with Idempotent-Replayed: true; " +
            "another body → 422; while the first is running → 409. Keys are scoped per donor (guests: by email). " +
            "The gateway forwards x-donor-bank-account (the signed-in user's own account) and x-donor-name.",
        ),
      },
    )
    .get("/pledges/:id", ({ params, headers, viewer }) => service.get(params.id, viewer, headers["x-receipt-token"]), {
      optionalAuth: true,
      params: IdParams,
      headers: PledgeModel.ReadPledgeHeaders,
      response: { 200: PledgeModel.Pledge, 400: Problem, 401: Problem, 404: Problem },
      detail: detail("Read a pledge: its donor, an admin, or X-Receipt-Token (anyone else: 404)"),
    })
    .get("/me/pledges", ({ principal, query }) => service.listMine(principal, query), {
      auth: true,
      query: PledgeModel.MyPledgesQuery,
      response: { 200: PledgeModel.PledgePage, 400: Problem, 401: Problem },
      detail: detail("The signed-in donor's pledges, newest first"),
    })
    .post("/pledges/:id/cancel", ({ params, principal }) => service.cancel(principal, params.id), {
      auth: true,
      params: IdParams,
      response: { 200: PledgeModel.Pledge, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem },
      detail: detail("Cancel your pledge while pending or authorized (else 409; others' pledges: 404)"),
    })
    .post("/pledges/:id/refund", async ({ params, status }) => status(202, await service.requestRefund(params.id)), {
      admin: true,
      params: IdParams,
      response: { 202: PledgeModel.Pledge, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem },
      detail: detail("Refund a captured pledge (admin); payment returns the money, then it becomes refunded"),
    });
}
