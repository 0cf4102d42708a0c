// Who may read and post where (real PostgreSQL): a support room is its user's and the admins',
// and everyone else — another user, a guest — gets the same 404 as for a room that does not
// exist; malformed room names are 404 too, and a refused post stores nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TEST_ADMIN } from "@careforall/testkit";
import { sql } from "drizzle-orm";
import { type ChatTestApp, expectProblem, type MessageBody, startChatTestApp, user } from "./support";

let h: ChatTestApp;
beforeAll(async () => {
  h = await startChatTestApp();
});
afterAll(() => h.stop());

const count = async () =>
  (await h.db.execute<{ n: number }>(sql`select count(*)::int as n from chat.messages`))[0]?.n ?? -1;

describe("support rooms", () => {
  const owner = user("Nusrat");
  const stranger = user("Tanvir");
  const room = `support:${owner.id}`;

  test("the owner and an admin post and both read the conversation, newest first", async () => {
    const asked = await h.post(room, owner, { text: "My pledge is stuck at pending" });
    expect(asked.status).toBe(201);
    const answered = await h.post(room, TEST_ADMIN, { text: "Looking into it now" });
    expect(answered.status).toBe(201);
    const answer = (await answered.json()) as MessageBody;
    expect(answer).toMatchObject({ room, userId: TEST_ADMIN.id, name: TEST_ADMIN.name });
    for (const reader of [owner, TEST_ADMIN]) {
      const res = await h.read(room, reader);
      expect(res.status).toBe(200);
      expect(((await res.json()) as MessageBody[]).map((m) => m.text)).toEqual([
        "Looking into it now",
        "My pledge is stuck at pending",
      ]);
    }
  });

  test("another user gets 404 reading and posting — the same answer as for a room nobody ever used", async () => {
    const before = await count();
    const read = await expectProblem(await h.read(room, stranger), 404);
    const post = await expectProblem(await h.post(room, stranger, { text: "let me in" }), 404);
    const unused = await expectProblem(await h.read(`support:${Bun.randomUUIDv7()}`, stranger), 404);
    expect(read).toEqual(unused);
    expect(post.type).toBe(read.type);
    expect(await count()).toBe(before);
  });

  test("a guest gets 404 reading and 401 posting", async () => {
    const before = await count();
    await expectProblem(await h.read(room, null), 404);
    await expectProblem(await h.post(room, null, { text: "hello?" }), 401);
    expect(await count()).toBe(before);
  });

  test("a user's own support room starts empty and is theirs alone", async () => {
    const res = await h.read(`support:${stranger.id}`, stranger);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });
});

describe("room names", () => {
  const someone = user("Karim");

  test("anything but campaign:<uuid> or support:<uuid> in canonical lowercase is no room (404), for reading and posting", async () => {
    const id = Bun.randomUUIDv7();
    await h.campaignRoom();
    const before = await count();
    for (const name of [
      "lobby",
      `campaign:${id.toUpperCase()}`,
      `Campaign:${id}`,
      `campaign:${id}x`,
      `campaign:${id.replaceAll("-", "")}`,
      `campaign: ${id}`,
      `campaign:`,
      `support:${someone.id}:extra`,
      `direct:${someone.id}`,
      `campaign:${id}%20`,
      "campaign:..%2F..%2Fetc",
    ]) {
      const path = encodeURIComponent(name).replaceAll("%25", "%");
      // Even an admin, who may read every real room: the route itself answers "no such room".
      const read = await h.call("GET", `/rooms/${path}/messages`, { as: TEST_ADMIN });
      expect({ name, detail: (await expectProblem(read, 404)).detail }).toEqual({ name, detail: "No such room" });
      const post = await h.call("POST", `/rooms/${path}/messages`, { as: TEST_ADMIN, body: { text: "x" } });
      expect({ name, detail: (await expectProblem(post, 404)).detail }).toEqual({ name, detail: "No such room" });
    }
    expect(await count()).toBe(before);
  });

  test("a support room needs no earlier message: its user opens it by posting", async () => {
    const newcomer = user("Newcomer");
    const res = await h.post(`support:${newcomer.id}`, newcomer, { text: "first contact" });
    expect(res.status).toBe(201);
  });
});
