// The payment internal API over HTTP (docs/money-path.md "Payment internal API"): reads, the
// operator pushes — each idempotent and driving the same steps as the workers — and /metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serviceHeaders } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import type { PaymentModel } from "../src/model";
import type { FakeBank } from "./fake-bank";
import { adminToken, type PaymentTestApp, pledgeCreated, startPaymentTestApp } from "./support";

let h: PaymentTestApp;
let bank: FakeBank;

beforeAll(async () => {
  h = await startPaymentTestApp();
  bank = h.bank;
});
afterAll(async () => {
  await h.stop();
});

async function json<T>(res: Response, status = 200): Promise<T> {
  expect(res.status).toBe(status);
  return (await res.json()) as T;
}

describe("reads", () => {
  test("GET /payments/:id and /payments/by-pledge/:pledgeId answer the Payment, never the grant", async () => {
    bank.reset();
    const event = pledgeCreated();
    const row = (await h.service.handlePledgeCreated(event))!;
    const byId = await json<PaymentModel.Payment>(await h.call("GET", `/payments/${row.id}`));
    expect(byId).toMatchObject({ id: row.id, pledgeId: event.data.pledgeId, status: "captured", holdId: row.holdId });
    expect(JSON.stringify(byId)).not.toContain("grant-token");
    expect(await json(await h.call("GET", `/payments/by-pledge/${event.data.pledgeId}`))).toEqual(byId);
  });

  test("unknown ids → 404 problem; malformed ids → 400", async () => {
    expect((await h.call("GET", `/payments/${Bun.randomUUIDv7()}`)).status).toBe(404);
    expect((await h.call("GET", `/payments/by-pledge/${Bun.randomUUIDv7()}`)).status).toBe(404);
    expect((await h.call("GET", "/payments/nope")).status).toBe(400);
    expect((await h.call("POST", "/payments/authorize", { paymentId: Bun.randomUUIDv7() })).status).toBe(404);
    expect((await h.call("POST", "/payments/authorize", {})).status).toBe(400);
  });

  test("the Eden type PaymentApp reaches the routes in-process", async () => {
    bank.reset();
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    // As the gateway calls it: its service credential and an administrator's token.
    const client = treaty(h.app, {
      headers: { ...(await serviceHeaders("payment")), authorization: `Bearer ${adminToken}` },
    });
    const { data, error } = await client.payments({ id: row.id }).get();
    expect(error).toBeNull();
    expect(data?.status).toBe("captured");
  });
});

describe("operator pushes", () => {
  test("POST /payments/authorize pushes a stuck payment with its own key, and is idempotent", async () => {
    bank.reset().script("authorize", "unknown");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    expect(row.status).toBe("authorizing");
    const first = await json<PaymentModel.AuthorizeResponse>(
      await h.call("POST", "/payments/authorize", { paymentId: row.id }),
    );
    expect(first).toMatchObject({ paymentId: row.id, status: "captured" });
    expect(first.holdId).toStartWith("hold_");
    const again = await json(await h.call("POST", "/payments/authorize", { paymentId: row.id }));
    expect(again).toEqual(first);
    expect(bank.keysOf("authorize")).toEqual([row.id, row.id]);
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 1 });
  });

  test("POST /payments/capture: the hold must match; capture once, then answer the same", async () => {
    bank.reset().script("capture", "unknown");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    expect(row.status).toBe("capturing");
    const wrong = await h.call("POST", "/payments/capture", { paymentId: row.id, holdId: "hold_other" });
    expect(wrong.status).toBe(409);
    const first = await json<PaymentModel.CaptureResponse>(
      await h.call("POST", "/payments/capture", { paymentId: row.id, holdId: row.holdId }),
    );
    expect(first).toMatchObject({ paymentId: row.id, status: "captured" });
    expect(first.transferId).toStartWith("tr_capture_");
    const again = await json(await h.call("POST", "/payments/capture", { paymentId: row.id, holdId: row.holdId }));
    expect(again).toEqual(first);
    expect(bank.performed().captures).toBe(1);
  });

  test("POST /payments/capture refuses a payment not yet authorized (409)", async () => {
    bank.reset().script("authorize", "unknown");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    expect((await h.call("POST", "/payments/capture", { paymentId: row.id, holdId: "h" })).status).toBe(409);
  });

  test("POST /payments/release releases an authorizing payment once it is held; a captured one → 409", async () => {
    bank.reset().script("authorize", "unknown");
    const row = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    const released = await json<PaymentModel.ReleaseResponse>(
      await h.call("POST", "/payments/release", { paymentId: row.id }),
    );
    expect(released).toEqual({ paymentId: row.id, status: "released" });
    expect(await json(await h.call("POST", "/payments/release", { paymentId: row.id }))).toEqual(released);
    expect(bank.performed()).toMatchObject({ holds: 1, captures: 0, releases: 1 });

    const captured = (await h.service.handlePledgeCreated(pledgeCreated()))!;
    expect(captured.status).toBe("captured");
    const refused = await h.call("POST", "/payments/release", { paymentId: captured.id });
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect((await h.payment(captured.id)).status).toBe("captured");
  });
});

describe("metrics", () => {
  test("/metrics exports payments by status, unknown outcomes, reconciler actions", async () => {
    bank.reset().script("authorize", "unknown");
    await h.service.handlePledgeCreated(pledgeCreated());
    await h.reconcileLater();
    const res = await h.call("GET", "/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/careforall_payments_by_status\{status="captured",service="payment"\} [1-9]/);
    expect(text).toMatch(/careforall_payments_by_status\{status="refunding",service="payment"\} 0/);
    expect(text).toMatch(
      /careforall_payment_bank_unknown_outcomes_total\{operation="authorize",service="payment"\} [1-9]/,
    );
    expect(text).toMatch(
      /careforall_payment_reconciler_actions_total\{action="authorize_retried",service="payment"\} [1-9]/,
    );
    expect(text).toContain("careforall_payment_webhook_duplicates_ignored_total");
  });
});
