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

const secured = { security: [{ bearer: [] as string[] }] };

export function bankRoutes({ bank, payment, limiter, demoAccountsPerMinute, log, context }: BankRoutesDeps) {
  return new Elysia({ name: "gateway-bank-routes" })
    .use(context)
    .post(
      "/api/bank/demo-accounts",
      async ({ ip, requestId, status }) => {
        await enforceLimits(limiter, log, [`demo-accounts:ip:${ip}`], demoAccountsPerMinute);
        const res = await call(log, "bank", bank.bank.accounts.post({}, { headers: upstreamHeaders(requestId) }));
        return status(201, res.data as BankModel.OpenedAccount);
      },
      {
        response: { 201: BankModel.OpenedAccount, 429: Problem, 503: Problem },
        detail: {
          tags: ["bank"],
          summary: "Open a simulated bank account (1,000,000 minor units of BDT) to donate as a guest",
          description: "The accountSecret is shown once. Rate limited per IP.",
        },
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
        detail: { tags: ["bank"], summary: "The signed-in user's bank balance", ...secured },
      },
    )
    .get(
      "/api/admin/bank/faults",
      async ({ requestId }) =>
        (await call(log, "bank", bank.bank.faults.get({ headers: upstreamHeaders(requestId) })))
          .data as BankModel.Faults,
      {
        admin: true,
        response: { 200: BankModel.Faults, 401: Problem, 403: Problem },
        detail: { tags: ["admin"], summary: "Read the bank's chaos knobs", ...secured },
      },
    )
    .put(
      "/api/admin/bank/faults",
      async ({ body, requestId }) =>
        (await call(log, "bank", bank.bank.faults.put(body, { headers: upstreamHeaders(requestId) })))
          .data as BankModel.Faults,
      {
        admin: true,
        body: BankModel.FaultsPatch,
        response: { 200: BankModel.Faults, 400: Problem, 401: Problem, 403: Problem },
        detail: {
          tags: ["admin"],
          summary: "Inject chaos: error rate, lost responses, latency, duplicate/reordered/dropped webhooks",
          description: "Rates are 0..1; fields left out keep their value.",
          ...secured,
        },
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
        detail: {
          tags: ["webhooks"],
          summary:
            "The bank's signed callbacks (hold.authorized / captured / released / expired / failed), alone or batched",
          description:
            'Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")> over the whole body. Bad, missing or ' +
            "stale (> 300 s) signatures → 400 and no effect (for a batch: for every event). One event answers " +
            "{ applied: boolean } (false when already applied); a batch { events: [ … ] } of 1..100 answers 200 once " +
            "every event is applied or known, with { applied, known, ignored, events } counts; 503 when the bank " +
            "cannot confirm an event right now (it retries; each event still applies once).",
        },
      },
    );
}
