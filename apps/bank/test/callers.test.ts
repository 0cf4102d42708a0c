// Behind the gateway is not a trusted zone (invariant 7): every bank route refuses a call without
// a valid credential for the bank (401) and a service it does not name (403), and such a call
// changes nothing in the ledger. Only payment moves money; only pledge gets grants.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type BankTestApp, startBankTestApp } from "./support";

let h: BankTestApp;
beforeAll(async () => {
  h = await startBankTestApp();
  await h.openDemo();
});
afterAll(() => h.stop());

test("every bank route names its callers and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(h.app, "bank", {
    fingerprint: () => schemaFingerprint((text) => h.db.execute(sql.raw(text)) as never, "bank"),
  });
  const byRoute = Object.fromEntries(table.map((r) => [r.route, r.callers]));
  expect(byRoute["POST /bank/grants"]).toEqual(["pledge"]);
  for (const route of ["POST /bank/authorize", "POST /bank/capture", "POST /bank/release", "POST /bank/refund"])
    expect(byRoute[route]).toEqual(["payment"]);
  expect(byRoute["PUT /bank/faults"]).toEqual(["gateway"]);
});

test("an operator route wants an administrator too, not only the gateway", async () => {
  const asGateway = await h.headersFor("/bank/accounts"); // the gateway's credential, no admin token
  const res = await h.app.handle(
    new Request("http://localhost/bank/faults", {
      method: "PUT",
      headers: { ...asGateway, "content-type": "application/json" },
      body: JSON.stringify({ errorRate: 1 }),
    }),
  );
  expect(res.status).toBe(401);
  expect((await h.call("GET", "/bank/faults").then((r) => r.json())).errorRate).toBe(0);
});
