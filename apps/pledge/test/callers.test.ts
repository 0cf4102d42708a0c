// Behind the gateway is not a trusted zone (invariant 7): every pledge route refuses a call without
// a valid credential for pledge (401) and a service it does not name (403), and such a call changes
// nothing — so nobody but the gateway can set x-donor-name or x-donor-bank-account on a donation.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type PledgeTestApp, startPledgeTestApp } from "./support";

let h: PledgeTestApp;
beforeAll(async () => {
  h = await startPledgeTestApp();
  await h.campaign();
});
afterAll(() => h.stop());

test("every pledge route names its callers (the gateway) and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(h.app, "pledge", {
    fingerprint: () => schemaFingerprint((text) => h.db.execute(sql.raw(text)) as never, "pledge"),
  });
  for (const { callers } of table) expect(callers).toEqual(["gateway"]);
  expect(table.map((r) => r.route)).toContain("POST /campaigns/:id/pledges");
});
