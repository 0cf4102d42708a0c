// /api/bank/demo-accounts (anyone, rate limited per IP), /api/me/bank, the admin chaos knobs
// /api/admin/bank/faults, and POST /api/webhooks/bank, which hands the bank's signed callback (one
// event or a batch) to the payment service byte for byte (the signature covers the raw body).
import type { BankApp } from "@careforall/bank";
import { BankModel } from "@careforall/bank";
import type { RateLimiter } from "@careforall/cache";
import { notFound, Problem, rawBody } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { type PaymentApp, PaymentModel } from "@careforall/payment";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { enforceLimits } from "../rate-limit";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

export interface BankRoutesDeps {
  bank: Treaty.Create<BankApp>;
  payment: Treaty.Create<PaymentApp>;
  limiter: RateLimiter;
  demoAccountsPerMinute: number;
  log: Logger;
  context: GatewayContext;
}

const MyBank = t.Object({
  bankAccountId: t.String(),
  balanceMinor: t.Integer(),
  availableMinor: t.Integer(),
  heldMinor: t.Integer(),
  currency: t.String(),
});

export function bankRoutes({ bank, payment, limiter, demoAccountsPerMinute, log, context }: BankRoutesDeps) {
  return new Elysia({ name: "gateway-bank-routes" })
    .use(context)
    .post(
      "/api/bank/demo-accounts",
      async ({ body, ip, requestId, status }) => {
        await enforceLimits(limiter, log, [`demo-accounts:ip:${ip}`], demoAccountsPerMinute);
        const wanted = body?.currency ? { currency: body.currency } : {};
        const res = await call(log, "bank", bank.bank.accounts.post(wanted, { headers: upstreamHeaders(requestId) }));
        return status(201, res.data as BankModel.OpenedAccount);
      },
      {
        // Optional: no body at all opens a BDT account, as before.
        body: t.Optional(BankModel.OpenAccountBody),
        response: { 201: BankModel.OpenedAccount, 400: Problem, 404: Problem, 429: Problem, 503: Problem },
        detail: operation({
          id: "openDemoAccount",
          tag: "bank",
          summary: "Open a simulated bank account to donate as a guest",
          description:
            "A new account holding 1,000,000 minor units of its currency: BDT, or `currency` (`USD`, `EUR`) to " +
            "give to a campaign that collects it. Its `accountSecret` is shown once: send both as a pledge's " +
            "`source`. The body is optional. Rate limited per IP address (`RATE_LIMIT_DEMO_ACCOUNTS` a minute).\n\n" +
            "Only where the demo bank is on (`DEMO_BANK`: on in development, off in production unless set): " +
            "elsewhere `404` with type `…/demo-bank-off`, and the fixed test accounts do not exist either.",
          access: "public",
          requestExample: { currency: "BDT" },
          responseExample: examples.openedAccount,
        }),
      },
    )
    .get(
      "/api/me/bank",
      async ({ principal, requestId }) => {
        const res = await bank.bank.accounts["by-owner"]({ ownerType: "user" })({ ownerId: principal.id }).get({
          headers: upstreamHeaders(requestId),
        });
        if (res.status === 404) throw notFound("Your bank account is still being opened; try again in a moment");
        const balance = (await call(log, "bank", Promise.resolve(res))).data as BankModel.Balance;
        return {
          bankAccountId: balance.bankAccountId,
          balanceMinor: balance.balanceMinor,
          availableMinor: balance.availableMinor,
          heldMinor: balance.heldMinor,
          currency: balance.currency,
        };
      },
      {
        auth: true,
        response: { 200: MyBank, 401: Problem, 404: Problem },
        detail: operation({
          id: "getMyBank",
          tag: "bank",
          summary: "Your bank account and balance",
          description:
            "The account opened with your user: `balanceMinor` is what it holds, `heldMinor` what pledges in " +
            "flight have reserved, `availableMinor` what a new pledge can use. `404` while it is still being opened.",
          access: "bearer",
          responseExample: examples.myBank,
        }),
      },
    )
    .get(
      "/api/admin/bank/faults",
      // The bank checks the administrator itself: the admin's token goes along.
      async ({ requestId, headers }) =>
        (await call(log, "bank", bank.bank.faults.get({ headers: upstreamHeaders(requestId, headers.authorization) })))
          .data as BankModel.Faults,
      {
        admin: true,
        response: { 200: BankModel.Faults, 401: Problem, 403: Problem },
        detail: operation({
          id: "getBankFaults",
          tag: "admin",
          summary: "The bank's chaos knobs (admin)",
          description:
            "What the simulated bank does wrong on purpose: error and lost-response rates, added latency, and " +
            "duplicated, reordered or dropped webhooks. All off by default.",
          access: "bearer",
          responseExample: examples.faults,
        }),
      },
    )
    .put(
      "/api/admin/bank/faults",
      async ({ body, requestId, headers }) =>
        (
          await call(
            log,
            "bank",
            bank.bank.faults.put(body, { headers: upstreamHeaders(requestId, headers.authorization) }),
          )
        ).data as BankModel.Faults,
      {
        admin: true,
        body: BankModel.FaultsPatch,
        response: { 200: BankModel.Faults, 400: Problem, 401: Problem, 403: Problem },
        detail: operation({
          id: "setBankFaults",
          tag: "admin",
          summary: "Make the bank misbehave (admin)",
          description:
            "Rates are 0..1, latency in milliseconds; fields left out keep their value. Every pledge still ends " +
            "captured or failed exactly once, whatever is set: that is the point.",
          access: "bearer",
          requestExample: examples.faultsPatch,
          responseExample: { ...examples.faults, ...examples.faultsPatch },
        }),
      },
    )
    .post(
      "/api/webhooks/bank",
      async ({ request, body, headers, requestId }) => {
        const raw = rawBody(request) ?? (typeof body === "string" ? body : JSON.stringify(body));
        const forwarded: Record<string, string> = { ...upstreamHeaders(requestId), "content-type": "text/plain" };
        if (headers["bank-signature"]) forwarded["bank-signature"] = headers["bank-signature"];
        const res = await call(log, "payment", payment.payments.webhook.post(raw, { headers: forwarded as never }));
        return res.data as PaymentModel.WebhookResponse;
      },
      {
        body: t.Unknown({
          description: 'The bank\'s event, or a batch { "events": [ … ] } of 1..100, exactly as signed',
        }),
        headers: t.Object(
          { "bank-signature": t.Optional(t.String({ maxLength: 512 })) },
          { additionalProperties: true },
        ),
        response: { 200: PaymentModel.WebhookResponse, 400: Problem, 413: Problem, 503: Problem },
        detail: operation({
          id: "receiveBankWebhook",
          tag: "webhooks",
          summary: "The bank's signed callbacks, alone or batched",
          description:
            "`hold.authorized`, `hold.captured`, `hold.released`, `hold.expired` and `hold.failed`, for the bank " +
            'only. `Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` covers the body byte ' +
            "for byte; a bad, missing or stale (over 300 s) signature → `400` and no effect (for a batch, for " +
            "every event). One event answers `{ applied }` (false when it was already applied); a batch " +
            "`{ events: [ … ] }` of 1..100 answers once every event is applied or known, with counts. `503` when " +
            "the bank cannot confirm an event right now: it retries, and each event still applies once. " +
            "See docs/api.md for signing.",
          access: "public",
          requestSchema: PaymentModel.WebhookDocumented,
          requestExample: examples.webhook,
          responseExample: { applied: true },
        }),
      },
    );
}
