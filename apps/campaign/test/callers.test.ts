// Behind the gateway is not a trusted zone (invariant 7): every campaign route refuses a call
// without a valid credential for campaign (401) and a service it does not name (403), and such a
// call changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type CampaignTestApp, startCampaignTestApp } from "./support";

let h: CampaignTestApp;
beforeAll(async () => {
  h = await startCampaignTestApp();
});
afterAll(() => h.stop());

test("every campaign route names its callers (the gateway) and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(h.app, "campaign", {
    fingerprint: () => schemaFingerprint((text) => h.db.execute(sql.raw(text)) as never, "campaign"),
  });
  for (const { callers } of table) expect(callers).toEqual(["gateway"]);
});
