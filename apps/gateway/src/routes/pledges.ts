// /api/campaigns/:id/pledges, /api/pledges/*, /api/me/pledges and /api/admin/pledges: validated
// and rate limited here, then forwarded to the pledge service through its Eden client. For a
// signed-in donor the gateway looks up their own bank account (the bank knows it by owner) and
// passes it on, so the pledge service can ask the bank for an owner's grant.
import type { RateLimiter } from "@careforall/cache";
import { conflict, IdParams, Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { PledgeApp } from "@careforall/pledge";
import { PledgeModel } from "@careforall/pledge";
import type { Treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import type { BankAccounts } from "../bank-accounts";
import { enforceLimits } from "../rate-limit";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

const SECURITY: Record<"required" | "optional", Array<Record<string, string[]>>> = {
  required: [{ bearer: [] }],
  optional: [{}, { bearer: [] }],
};

const detail = (summary: string, description?: string, secured?: "required" | "optional") => ({
  tags: ["pledges"],
  summary,
  ...(description ? { description } : {}),
  ...(secured ? { security: SECURITY[secured] } : {}),
});

export interface PledgeRoutesDeps {
  pledge: Treaty.Create<PledgeApp>;
  accounts: BankAccounts;
  limiter: RateLimiter;
  limitPerMinute: number;
  log: Logger;
  context: GatewayContext;
}

export function pledgeRoutes({ pledge, accounts, limiter, limitPerMinute, log, context }: PledgeRoutesDeps) {
  const guestKey = (email: string) => email.trim().toLowerCase();

  return new Elysia({ name: "gateway-pledge-routes" })
    .use(context)
    .post(
      "/api/campaigns/:id/pledges",
      async ({ params, body, headers, viewer, ip, requestId, set, status }) => {
        await enforceLimits(
          limiter,
          log,
          viewer
            ? [`pledge:user:${viewer.id}`]
            : [`pledge:guest:${guestKey(body.donor?.email ?? "")}`, `pledge:ip:${ip}`],
          limitPerMinute,
        );
        const forwarded: Record<string, string> = {
          ...upstreamHeaders(requestId, headers.authorization),
          "idempotency-key": headers["idempotency-key"],
        };
        if (viewer) {
          // Header values are Latin-1: a name in Bengali (or any script) travels percent-encoded,
          // and pledge decodes it (a raw one made fetch throw, which read as a pledge outage).
          forwarded["x-donor-name"] = encodeURIComponent(viewer.name || viewer.email);
          if (!body.source) {
            const own = await accounts.ofUser(viewer.id, requestId);
            if (!own)
              throw conflict("Your bank account is still being opened; try again in a moment", "account-pending");
            forwarded["x-donor-bank-account"] = own;
          }
        }
        const res = await call(
          log,
          "pledge",
          pledge
            .campaigns({ id: params.id })
            .pledges.post(body, { headers: forwarded as PledgeModel.CreatePledgeHeaders }),
        );
        const replayed = res.response?.headers.get("idempotent-replayed");
        if (replayed) set.headers["idempotent-replayed"] = replayed;
        return status(202, res.data as PledgeModel.CreatedPledge);
      },
      {
        optionalAuth: true,
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
          429: Problem,
          503: Problem,
        },
        detail: detail(
          "Donate to a campaign (signed in, or as a guest with donor and source)",
          "Idempotency-Key is required. The same key and body replay the first answer with Idempotent-Replayed: true; " +
            "another body → 422; while the first request is still running → 409. Keys are scoped per donor " +
            "(guests: by donor.email) and kept at least 24 hours. 202 returns before the bank answers; follow the " +
            "pledge's status with GET /api/pledges/{id}. Guests get a receiptToken once (send it as X-Receipt-Token).",
          "optional",
        ),
      },
    )
    .get(
      "/api/pledges/:id",
      async ({ params, headers, requestId }) => {
        const forwarded: Record<string, string> = upstreamHeaders(requestId, headers.authorization);
        if (headers["x-receipt-token"]) forwarded["x-receipt-token"] = headers["x-receipt-token"];
        const res = await call(log, "pledge", pledge.pledges({ id: params.id }).get({ headers: forwarded }));
        return res.data as PledgeModel.Pledge;
      },
      {
        optionalAuth: true,
        params: IdParams,
        headers: PledgeModel.ReadPledgeHeaders,
        response: { 200: PledgeModel.Pledge, 400: Problem, 401: Problem, 404: Problem },
        detail: detail(
          "Read a pledge: its donor, an admin, or with X-Receipt-Token (anyone else: 404)",
          undefined,
          "optional",
        ),
      },
    )
    .get(
      "/api/me/pledges",
      async ({ query, headers, requestId }) => {
        const res = await call(
          log,
          "pledge",
          pledge.me.pledges.get({ query, headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as PledgeModel.PledgePage;
      },
      {
        auth: true,
        query: PledgeModel.MyPledgesQuery,
        response: { 200: PledgeModel.PledgePage, 400: Problem, 401: Problem },
        detail: detail("The signed-in donor's pledges, newest first", undefined, "required"),
      },
    )
    .post(
      "/api/pledges/:id/cancel",
      async ({ params, headers, requestId }) => {
        const res = await call(
          log,
          "pledge",
          pledge
            .pledges({ id: params.id })
            .cancel.post(undefined, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as PledgeModel.Pledge;
      },
      {
        auth: true,
        params: IdParams,
        response: { 200: PledgeModel.Pledge, 400: Problem, 401: Problem, 404: Problem, 409: Problem },
        detail: detail("Cancel your pledge while pending or authorized (otherwise 409)", undefined, "required"),
      },
    )
    .post(
      "/api/pledges/:id/refund",
      async ({ params, headers, requestId, status }) => {
        const res = await call(
          log,
          "pledge",
          pledge
            .pledges({ id: params.id })
            .refund.post(undefined, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return status(202, res.data as PledgeModel.Pledge);
      },
      {
        admin: true,
        params: IdParams,
        response: { 202: PledgeModel.Pledge, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem },
        detail: detail("Refund a captured pledge (admin; otherwise 409)", undefined, "required"),
      },
    )
    .get(
      "/api/admin/pledges",
      async ({ query, headers, requestId }) => {
        const res = await call(
          log,
          "pledge",
          pledge.admin.pledges.get({ query, headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as PledgeModel.PledgePage;
      },
      {
        admin: true,
        query: PledgeModel.AdminListQuery,
        response: { 200: PledgeModel.PledgePage, 400: Problem, 401: Problem, 403: Problem },
        detail: { ...detail("All pledges by status (admin)", undefined, "required"), tags: ["admin"] },
      },
    );
}
