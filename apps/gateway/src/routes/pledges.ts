// /api/campaigns/:id/pledges, /api/pledges/*, /api/me/pledges and /api/admin/pledges: validated
// and rate limited here, then forwarded to the pledge service through its Eden client. For a
// signed-in donor the gateway looks up their own bank account (the bank knows it by owner) and
// passes it on, so the pledge service can ask the bank for an owner's grant.
import { TEST_ACCOUNTS } from "@careforall/bank";
import type { RateLimiter } from "@careforall/cache";
import { conflict, IdParams, Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { PledgeApp } from "@careforall/pledge";
import { PledgeModel } from "@careforall/pledge";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import type { BankAccounts } from "../bank-accounts";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { enforceLimits } from "../rate-limit";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

/** The fixed test accounts anyone may pay from (secret "test"): each has its own pledge limit. */
const TEST_ACCOUNT_IDS: ReadonlySet<string> = new Set(Object.values(TEST_ACCOUNTS));

/** The gateway's own headers for a pledge: the pledge service's internal ones are set here, never by clients. */
const CreatePledgeHeaders = t.Object(
  { authorization: t.Optional(t.String()), "idempotency-key": PledgeModel.IdempotencyKey },
  { additionalProperties: true },
);

export interface PledgeRoutesDeps {
  pledge: Treaty.Create<PledgeApp>;
  accounts: BankAccounts;
  limiter: RateLimiter;
  limitPerMinute: number;
  /** Pledges a minute paid from each fixed test account, whoever sends them (0: off; off too when limitPerMinute is 0). */
  testAccountLimitPerMinute: number;
  log: Logger;
  context: GatewayContext;
}

export function pledgeRoutes({
  pledge,
  accounts,
  limiter,
  limitPerMinute,
  testAccountLimitPerMinute,
  log,
  context,
}: PledgeRoutesDeps) {
  const guestKey = (email: string) => email.trim().toLowerCase();
  /** The limit of a pledge's source when it is a fixed test account (none otherwise, or while pledge limits are off). */
  const testAccountLimit = (source: string | undefined): Promise<void> | null =>
    source !== undefined && limitPerMinute > 0 && TEST_ACCOUNT_IDS.has(source)
      ? enforceLimits(limiter, log, [`pledge:test-account:${source}`], testAccountLimitPerMinute)
      : null;

  return new Elysia({ name: "gateway-pledge-routes" })
    .use(context)
    .post(
      "/api/campaigns/:id/pledges",
      async ({ params, body, headers, viewer, ip, requestId, set, status }) => {
        await Promise.all([
          enforceLimits(
            limiter,
            log,
            viewer
              ? [`pledge:user:${viewer.id}`]
              : [`pledge:guest:${guestKey(body.donor?.email ?? "")}`, `pledge:ip:${ip}`],
            limitPerMinute,
          ),
          testAccountLimit(body.source?.bankAccountId),
        ]);
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
        const created = res.data as PledgeModel.CreatedPledge;
        // Where to follow it (a 202's status monitor, RFC 9110 §15.3.3).
        set.headers.location = `/api/pledges/${created.id}`;
        return status(202, created);
      },
      {
        optionalAuth: true,
        params: IdParams,
        headers: CreatePledgeHeaders,
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
        detail: operation({
          id: "createPledge",
          tag: "pledges",
          summary: "Donate to a campaign",
          description:
            "Signed in, a donor pays from their own bank account (or from `source`). As a guest, send `donor` " +
            "(email and name) and `source` (a bank account and its secret: open one with " +
            "`POST /api/bank/demo-accounts`, or use a test account from the front page).\n\n" +
            "`Idempotency-Key` is required: the same key and body replay the first answer with " +
            "`Idempotent-Replayed: true`; another body with that key → `422`; while the first is still running → " +
            "`409`. Keys are scoped per donor (guests by `donor.email`) and kept at least 24 hours, so retrying " +
            "after a timeout or a `503` can never charge twice.\n\n" +
            "`202` comes before the bank has answered: follow the pledge with `GET /api/pledges/{id}` (guests send " +
            "the `receiptToken`, shown once, as `X-Receipt-Token`). Refusals: a wrong secret → `402`; a currency " +
            "other than the campaign's → `422`; a closed campaign → `409` (`campaign-closed`), and so is one whose " +
            "`endsAt` has been reached, even before it reads `closed` (`campaign-ended`); an unknown one → `404`.\n\n" +
            "Rate limited per donor (`RATE_LIMIT_PLEDGES` a minute; guests per email and per IP address), and " +
            "paying from a fixed test account (`acct_test_*`) also per account, whoever pays " +
            "(`RATE_LIMIT_TEST_ACCOUNT_PLEDGES` a minute): past either, `429` with `Retry-After`.",
          access: "optional",
          requestExample: examples.guestPledge,
          responseExample: examples.createdPledge,
          headers: { 202: ["Idempotent-Replayed", "Location"] },
        }),
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
        detail: operation({
          id: "getPledge",
          tag: "pledges",
          summary: "A pledge and its status history",
          description:
            "For its donor, an admin, or anyone holding its receipt token (`X-Receipt-Token`); for anyone else it " +
            "does not exist (`404`). `status` moves `pending` → `authorized` → `captured`, or ends `failed` with " +
            "a `failureReason`, `cancelled` or `refunded`; `history` lists every step with its time.",
          access: "optional",
          responseExample: examples.pledge,
        }),
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
        detail: operation({
          id: "listMyPledges",
          tag: "pledges",
          summary: "Your pledges, newest first",
          description: "The signed-in donor's own pledges in every state. Page with `cursor`.",
          access: "bearer",
          responseExample: examples.page(examples.pledge),
        }),
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
        detail: operation({
          id: "cancelPledge",
          tag: "pledges",
          summary: "Cancel your pledge before it is captured",
          description:
            "While it is `pending` or `authorized`: any hold is released and nothing is charged. Once captured " +
            "it is a `409` (ask for a refund). Another donor's pledge does not exist for you (`404`).",
          access: "bearer",
          responseExample: examples.cancelledPledge,
        }),
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
        detail: operation({
          id: "refundPledge",
          tag: "admin",
          summary: "Refund a captured pledge (admin)",
          description:
            "Starts the refund: `202`, then the pledge becomes `refunded` and the campaign's totals and the " +
            "donor's balance are restored. A pledge that is not captured → `409`.",
          access: "bearer",
          responseExample: examples.pledge,
        }),
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
        detail: operation({
          id: "listPledges",
          tag: "admin",
          summary: "All pledges, by status (admin)",
          description: "Every donor's pledges, newest first, optionally of one `status`. Page with `cursor`.",
          access: "bearer",
          responseExample: examples.page(examples.pledge),
        }),
      },
    );
}
