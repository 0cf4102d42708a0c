// The money-moving routes (authorize, capture, release, refund, and batches of authorize and
// capture) — idempotent by key, chaos-injectable (`faults: true`, per call) — and the hold
// lookups the payment reconciler uses.
import { Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import type { BankBatch } from "../batch";
import { BankModel } from "../model";
import type { BankService, Idempotent } from "../service";
import type { faultInjection } from "./faults";

export interface HoldRoutesDeps {
  service: BankService;
  batch: BankBatch;
  faults: ReturnType<typeof faultInjection>;
}

const detail = (summary: string) => ({ tags: ["bank-holds"], summary });
const REPLAYED = "idempotent-replayed";
const PAYMENT = ["payment"] as const;

/** Unwraps an idempotent result, marking stored answers with `Idempotent-Replayed: true`. */
function answer<T>(result: Idempotent<T>, headers: Record<string, unknown>): T {
  if (result.replayed) headers[REPLAYED] = "true";
  return result.body;
}

const writeErrors = { 400: Problem, 422: Problem, 500: Problem, 502: Problem, 503: Problem } as const;

export function holdRoutes({ service, batch, faults }: HoldRoutesDeps) {
  // Only payment moves money or reads holds.
  return new Elysia({ prefix: "/bank" })
    .use(serviceCallers)
    .use(faults)
    .post("/authorize", async ({ body, set }) => answer(await service.authorize(body), set.headers), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.AuthorizeBody,
      response: { 200: BankModel.AuthorizeResult, 409: Problem, ...writeErrors },
      detail: detail("Place a hold (or answer why not); same key + body → the stored answer"),
    })
    .post("/authorize/batch", async ({ body }) => ({ results: await batch.authorizeBatch(body.items) }), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.AuthorizeBatchBody,
      response: { 200: BankModel.AuthorizeBatchResult, ...writeErrors },
      detail: detail(
        "Up to 100 authorizes in one call; each item is answered as POST /bank/authorize with its body would be",
      ),
    })
    .post("/capture", async ({ body, set }) => answer(await service.capture(body), set.headers), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.CaptureBody,
      response: { 200: BankModel.CaptureResult, 404: Problem, 409: Problem, ...writeErrors },
      detail: detail("Capture a held hold, fully or partly (the rest is released)"),
    })
    .post("/capture/batch", async ({ body }) => ({ results: await batch.captureBatch(body.items) }), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.CaptureBatchBody,
      response: { 200: BankModel.CaptureBatchResult, ...writeErrors },
      detail: detail(
        "Up to 100 captures in one call; each item is answered as POST /bank/capture with its body would be",
      ),
    })
    .post("/release", async ({ body, set }) => answer(await service.release(body), set.headers), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.ReleaseBody,
      response: { 200: BankModel.ReleaseResult, 404: Problem, 409: Problem, ...writeErrors },
      detail: detail("Release a held hold"),
    })
    .post("/refund", async ({ body, set }) => answer(await service.refund(body), set.headers), {
      callers: PAYMENT,
      faults: true,
      parse: "json",
      body: BankModel.RefundBody,
      response: { 200: BankModel.RefundResult, 404: Problem, 409: Problem, ...writeErrors },
      detail: detail("Refund a captured hold, fully or partly (never more than captured)"),
    })
    .get("/holds/by-key/:key", ({ params }) => service.authorizeResultByKey(params.key), {
      callers: PAYMENT,
      params: BankModel.KeyParams,
      response: { 200: BankModel.AuthorizeResult, 400: Problem, 404: Problem },
      detail: detail("The answer an authorize key got; 404 if the bank never saw it"),
    })
    .get("/holds/:id", ({ params }) => service.getHold(params.id), {
      callers: PAYMENT,
      params: BankModel.HoldParams,
      response: { 200: BankModel.Hold, 400: Problem, 404: Problem },
      detail: detail("One hold"),
    });
}
