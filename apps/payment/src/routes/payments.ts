// Payment internal routes (docs/money-path.md "Payment internal API"): the operator pushes, the
// reads, and the bank webhook. Each drives the same service functions the workers use.
import { type authGuard, IdParams, Problem, rawBody, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { PaymentModel } from "../model";
import type { PaymentService } from "../service";

const detail = (summary: string) => ({ tags: ["payments"], summary });

// Callers: the bank's webhooks reach payment through the gateway (the public origin); the
// operator pushes and reads are an administrator's, through the gateway.
export function paymentRoutes({ service, guard }: { service: PaymentService; guard: ReturnType<typeof authGuard> }) {
  return new Elysia({ prefix: "/payments" })
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .post(
      "/webhook",
      async ({ request, body, headers }) => {
        // The signature covers the exact bytes: httpKit keeps them when it parsed JSON; a
        // text/plain body (as the gateway forwards it) arrives untouched.
        const raw = rawBody(request) ?? (typeof body === "string" ? body : "");
        return service.handleWebhook(raw, headers["bank-signature"]);
      },
      {
        parse: "text",
        body: PaymentModel.WebhookBody,
        headers: PaymentModel.WebhookHeaders,
        response: { 200: PaymentModel.WebhookResponse, 400: Problem, 413: Problem },
        detail: detail("Bank webhook: verify the signature on the raw body, dedupe by event id, apply"),
      },
    )
    .post("/authorize", ({ body }) => service.operatorAuthorize(body.paymentId), {
      admin: true,
      parse: "json",
      body: PaymentModel.PaymentIdBody,
      response: { 200: PaymentModel.AuthorizeResponse, 400: Problem, 404: Problem },
      detail: detail("Authorize (or push along) a payment with its own idempotency key"),
    })
    .post("/capture", ({ body }) => service.operatorCapture(body), {
      admin: true,
      parse: "json",
      body: PaymentModel.CaptureBody,
      response: { 200: PaymentModel.CaptureResponse, 400: Problem, 404: Problem, 409: Problem },
      detail: detail("Capture an authorized payment (idempotent)"),
    })
    .post("/release", ({ body }) => service.operatorRelease(body.paymentId), {
      admin: true,
      parse: "json",
      body: PaymentModel.PaymentIdBody,
      response: { 200: PaymentModel.ReleaseResponse, 400: Problem, 404: Problem, 409: Problem },
      detail: detail("Release an authorized payment's hold instead of capturing it (idempotent)"),
    })
    .get("/by-pledge/:pledgeId", ({ params }) => service.getByPledge(params.pledgeId), {
      admin: true,
      params: PaymentModel.PledgeParams,
      response: { 200: PaymentModel.Payment, 400: Problem, 404: Problem },
      detail: detail("The payment of a pledge"),
    })
    .get("/:id", ({ params }) => service.get(params.id), {
      admin: true,
      params: IdParams,
      response: { 200: PaymentModel.Payment, 400: Problem, 404: Problem },
      detail: detail("One payment"),
    });
}
