// Notification honours the session denylist auth writes (Redis in production, memory here): the
// access token of a session that has ended reads and marks nothing, while other sessions go on.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createMemoryCache } from "@careforall/cache";
import { createSessionDenylist } from "@careforall/http";
import { TEST_ISSUER } from "@careforall/testkit";
import { importPKCS8, SignJWT } from "jose";
import { expectProblem, type NotificationTestApp, startNotificationTestApp, user } from "./support";

const denylist = createSessionDenylist(createMemoryCache());
let t: NotificationTestApp;
beforeAll(async () => {
  t = await startNotificationTestApp({ denylist });
});
afterAll(() => t.stop());

/** An access token of session `sid`, as auth mints them. */
async function sessionToken(u: ReturnType<typeof user>, sid: string) {
  return new SignJWT({ email: u.email, name: u.name, role: u.role, sid })
    .setProtectedHeader({ alg: "EdDSA" })
    .setSubject(u.id)
    .setIssuer(TEST_ISSUER)
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(await importPKCS8(t.keys.privateKeyPem, "EdDSA"));
}

test("a token of an ended session is refused (401); the same user's other session still reads", async () => {
  const donor = user("sam");
  const ended = await sessionToken(donor, "session-ended");
  const live = await sessionToken(donor, "session-live");
  expect((await t.call("GET", "/notifications", { token: ended })).status).toBe(200);
  await denylist.revoke(["session-ended"], 900);
  await expectProblem(await t.call("GET", "/notifications", { token: ended }), 401);
  await expectProblem(await t.call("POST", "/notifications/read-all", { token: ended }), 401);
  expect((await t.call("GET", "/notifications", { token: live })).status).toBe(200);
});
