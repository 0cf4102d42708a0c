// Behind the gateway is not a trusted zone (invariant 7): every payment route refuses a call
// without a valid credential for payment (401) and a service it does not name (403), and such a
// call changes nothing — nobody can release or capture a payment from inside the network.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint, serviceHeaders } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type PaymentTestApp, pledgeCreated, startPaymentTestApp } from "./support";

let h: PaymentTestApp;
let paymentId: string;
beforeAll(async () => {
  h = await startPaymentTestApp();
  paymentId = (await h.service.handlePledgeCreated(pledgeCreated()))!.id;
});
afterAll(() => h.stop());

test("every payment route names its callers (the gateway) and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(h.app, "payment", {
    fingerprint: () => schemaFingerprint((text) => h.db.execute(sql.raw(text)) as never, "payment"),
  });
  for (const { callers } of table) expect(callers).toEqual(["gateway"]);
});

test("the gateway alone is not enough to release a payment: an administrator must ask", async () => {
  const before = await h.service.get(paymentId);
  const res = await h.app.handle(
    new Request("http://localhost/payments/release", {
      method: "POST",
      headers: { ...(await serviceHeaders("payment")), "content-type": "application/json" },
      body: JSON.stringify({ paymentId }),
    }),
  );
  expect(res.status).toBe(401);
  expect((await h.service.get(paymentId)).status).toBe(before.status);
});
