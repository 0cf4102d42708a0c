// Behind the gateway is not a trusted zone (invariant 7): every auth route refuses a call without
// a valid credential for auth (401) and a service it does not name (403), and such a call changes
// nothing. Emails by user id are an operator's read (gateway, for an administrator).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type Harness, startAuth } from "./support";

let h: Harness;
beforeAll(async () => {
  h = await startAuth();
  await h.register();
});
afterAll(() => h.close());

test("every auth route names its callers and refuses everyone else, with no effect", async () => {
  const table = await expectCallersEnforced(h.app, "auth", {
    fingerprint: () => schemaFingerprint((text) => h.db.db.execute(sql.raw(text)) as never, "auth"),
  });
  const byRoute = Object.fromEntries(table.map((r) => [r.route, r.callers]));
  expect(byRoute["POST /auth/login"]).toEqual(["gateway"]);
  expect(byRoute["GET /users/:id"]).toEqual(["gateway"]);
});
