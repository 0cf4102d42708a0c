// Edges of a post: the name shown comes from the token (a token without a name claim shows
// "Anonymous", never the email), an ended session's token is refused, and a push that cannot be
// handed to the fan-out loses the live frame only — the message is stored and counted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createMemoryFanout } from "@careforall/bus";
import { createMemoryCache } from "@careforall/cache";
import { createSessionDenylist } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { TEST_ISSUER } from "@careforall/testkit";
import { importPKCS8, SignJWT } from "jose";
import { type ChatTestApp, expectProblem, type MessageBody, startChatTestApp, user } from "./support";

const denylist = createSessionDenylist(createMemoryCache());
let h: ChatTestApp;
beforeAll(async () => {
  h = await startChatTestApp({ denylist });
});
afterAll(() => h.stop());

/** An access token as auth signs it, with exactly the claims given (plus sub, iss, exp). */
async function tokenWith(sub: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA" })
    .setSubject(sub)
    .setIssuer(TEST_ISSUER)
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(await importPKCS8(h.jwtPrivateKeyPem, "EdDSA"));
}

test("a token without a name claim posts as Anonymous; the email is never shown", async () => {
  const room = await h.campaignRoom();
  const id = Bun.randomUUIDv7();
  const token = await tokenWith(id, { email: "secret@example.test", role: "donor" });
  const res = await h.call("POST", `/rooms/${room}/messages`, { token, body: { text: "who am I?" } });
  expect(res.status).toBe(201);
  const message = (await res.json()) as MessageBody;
  expect(message).toMatchObject({ userId: id, name: "Anonymous" });
  expect(JSON.stringify(message)).not.toContain("secret@");
});

test("the token of an ended session is refused (401): it posts nothing more", async () => {
  const room = await h.campaignRoom();
  const sessionId = Bun.randomUUIDv7();
  const token = await tokenWith(Bun.randomUUIDv7(), {
    email: "a@example.test",
    name: "A",
    role: "donor",
    sid: sessionId,
  });
  expect((await h.call("POST", `/rooms/${room}/messages`, { token, body: { text: "before" } })).status).toBe(201);
  await denylist.revoke([sessionId], 900);
  await expectProblem(await h.call("POST", `/rooms/${room}/messages`, { token, body: { text: "after" } }), 401);
  // Not for reading either: an ended session's token proves nothing any more (a guest still reads).
  await expectProblem(await h.call("GET", `/rooms/${room}/messages`, { token }), 401);
  const history = (await (await h.read(room, null)).json()) as MessageBody[];
  expect(history.map((m) => m.text)).toEqual(["before"]);
});

test("when the fan-out cannot take the frame, the message is still stored, answered and counted", async () => {
  const closed = createMemoryFanout({ log: silentLogger() });
  await closed.close();
  const lossy = await startChatTestApp({ fanout: closed });
  try {
    const room = await lossy.campaignRoom();
    const res = await lossy.post(room, user("Rafiq"), { text: "pushed nowhere" });
    expect(res.status).toBe(201);
    const message = (await res.json()) as MessageBody;
    expect((await (await lossy.read(room, null)).json()) as MessageBody[]).toEqual([message]);
    const metrics = await (await lossy.app.handle(new Request("http://localhost/metrics"))).text();
    expect(metrics).toMatch(/^careforall_chat_pushes_failed_total\{service="chat"\} 1$/m);
    expect(metrics).toMatch(/^careforall_chat_messages_stored_total\{service="chat"\} 1$/m);
  } finally {
    await lossy.stop();
  }
});
