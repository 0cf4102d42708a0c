// Behind the gateway is not a trusted zone (invariant 7): every chat route refuses a call without a
// valid credential for chat (401) and a service it does not name (403), and such a call changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { expectCallersEnforced, schemaFingerprint } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type ChatTestApp, startChatTestApp } from "./support";

let h: ChatTestApp;
beforeAll(async () => {
  h = await startChatTestApp();
});
afterAll(() => h.stop());

test("every chat route names its callers (the gateway) and refuses everyone else, with no effect", async () => {
  await h.campaignRoom();
  const table = await expectCallersEnforced(h.app, "chat", {
    fingerprint: () => schemaFingerprint((text) => h.db.execute(sql.raw(text)) as never, "chat"),
  });
  expect(table.map((r) => r.route).sort()).toEqual(["GET /rooms/:room/messages", "POST /rooms/:room/messages"]);
  for (const { callers } of table) expect(callers).toEqual(["gateway"]);
});
