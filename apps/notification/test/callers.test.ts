// Behind the gateway is not a trusted zone (invariant 7): every notification route refuses a call
// without a valid credential for notification (401) and a service it does not name (403), and
// such a call changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type NotificationTestApp, startNotificationTestApp } from "./support";

let t: NotificationTestApp;
beforeAll(async () => {
  t = await startNotificationTestApp();
});
afterAll(() => t.stop());

test("every notification route names its callers (the gateway) and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(t.app, "notification", {
    fingerprint: () => schemaFingerprint((text) => t.db.execute(sql.raw(text)) as never, "notification"),
  });
  expect(table.map((r) => r.route).sort()).toEqual([
    "GET /notifications",
    "POST /notifications/:id/read",
    "POST /notifications/read-all",
  ]);
  for (const { callers } of table) expect(callers).toEqual(["gateway"]);
});
