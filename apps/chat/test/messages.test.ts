// Posting and reading messages against a real PostgreSQL: the stored shape, history newest first
// and paged with `before` without gaps or repeats, plain text kept verbatim, the text limits in
// code points, clientId idempotency under parallel retries, and one live frame per stored message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  type ChatTestApp,
  errorPaths,
  expectProblem,
  type MessageBody,
  startChatTestApp,
  type TestUser,
  user,
  waitFor,
} from "./support";

let h: ChatTestApp;
const ayesha = user("আয়েশা সিদ্দিকা");
const rafiq = user("Rafiq");

beforeAll(async () => {
  h = await startChatTestApp();
});
afterAll(() => h.stop());

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function posted(room: string, as: TestUser, body: Record<string, unknown>): Promise<MessageBody> {
  const res = await h.post(room, as, body);
  expect(res.status).toBe(201);
  return (await res.json()) as MessageBody;
}

async function history(room: string, as: TestUser | null, query = ""): Promise<MessageBody[]> {
  const res = await h.read(room, as, query);
  expect(res.status).toBe(200);
  return (await res.json()) as MessageBody[];
}

describe("posting and reading", () => {
  test("a signed-in user's message is stored with their id and display name and read back by anyone", async () => {
    const room = await h.campaignRoom();
    const before = h.clock.date().toISOString();
    const message = await posted(room, ayesha, { text: "Is the well project still short of funds?" });
    expect(message).toEqual({
      id: message.id,
      room,
      userId: ayesha.id,
      name: "আয়েশা সিদ্দিকা",
      text: "Is the well project still short of funds?",
      at: before,
    });
    expect(message.id).toMatch(UUID_V7);
    expect("clientId" in message).toBe(false);
    // Anyone reads a campaign room: a guest and another user see the same message.
    expect(await history(room, null)).toEqual([message]);
    expect(await history(room, rafiq)).toEqual([message]);
  });

  test("the clientId is echoed in the answer and in history", async () => {
    const room = await h.campaignRoom();
    const message = await posted(room, rafiq, { text: "hello", clientId: "c-1" });
    expect(message.clientId).toBe("c-1");
    expect((await history(room, null))[0]).toEqual(message);
  });

  test("a room without messages, and the room of a campaign chat has never heard of, read as empty", async () => {
    expect(await history(await h.campaignRoom(), null)).toEqual([]);
    expect(await history(`campaign:${Bun.randomUUIDv7()}`, null)).toEqual([]);
  });

  test("posting to the room of a campaign chat does not know is 404, and nothing is stored", async () => {
    const room = `campaign:${Bun.randomUUIDv7()}`;
    const problem = await expectProblem(await h.post(room, ayesha, { text: "anyone here?" }), 404);
    expect(problem.type).toBe("https://careforall.dev/problems/not-found");
    const [row] = await h.db.execute<{ n: number }>(
      sql`select count(*)::int as n from chat.messages where room = ${room}`,
    );
    expect(row?.n).toBe(0);
  });

  test("a guest cannot post (401), even to a public campaign room", async () => {
    const room = await h.campaignRoom();
    await expectProblem(await h.post(room, null, { text: "hi" }), 401);
    await expectProblem(
      await h.call("POST", `/rooms/${room}/messages`, { token: "not-a-jwt", body: { text: "hi" } }),
      401,
    );
    expect(await history(room, null)).toEqual([]);
  });

  test("a percent-encoded room name (as a URL client may send it) is the same room", async () => {
    const room = await h.campaignRoom();
    const message = await posted(room.replace(":", "%3A"), rafiq, { text: "encoded" });
    expect(message.room).toBe(room);
    expect(await history(room.replace(":", "%3A"), null)).toEqual([message]);
  });
});

describe("history paging", () => {
  test("120 messages page back newest first with `before`: no gaps, no repeats", async () => {
    const room = await h.campaignRoom();
    const sent: MessageBody[] = [];
    for (let i = 0; i < 120; i++) {
      sent.push(await posted(room, i % 2 ? ayesha : rafiq, { text: `message ${i}` }));
      h.clock.advance(i % 3 === 0 ? 0 : 7); // some share a millisecond: order still follows the ids
    }
    const expected = sent.map((m) => m.text).reverse();

    const pages: MessageBody[][] = [];
    let before = "";
    for (;;) {
      const page = await history(room, null, `?limit=50${before ? `&before=${before}` : ""}`);
      if (page.length === 0) break;
      pages.push(page);
      before = (page.at(-1) as MessageBody).id;
    }
    expect(pages.map((p) => p.length)).toEqual([50, 50, 20]);
    expect(pages.flat().map((m) => m.text)).toEqual(expected);
    // Ids strictly decrease across the whole walk: newest first, no repeats.
    const ids = pages.flat().map((m) => m.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(new Set(ids).size).toBe(120);

    // The default page is 50, the newest; `before` the newest message skips exactly it.
    expect((await history(room, null)).map((m) => m.text)).toEqual(expected.slice(0, 50));
    expect((await history(room, null, `?limit=3&before=${sent[119]?.id}`)).map((m) => m.text)).toEqual(
      expected.slice(1, 4),
    );
    // `before` the oldest: nothing older.
    expect(await history(room, null, `?before=${sent[0]?.id}`)).toEqual([]);
  });

  test("limit must be 1..100 and before a message id (UUIDv7): otherwise 400 naming the field", async () => {
    const room = await h.campaignRoom();
    for (const [query, path] of [
      ["?limit=0", "limit"],
      ["?limit=101", "limit"],
      ["?limit=ten", "limit"],
      ["?before=yesterday", "before"],
      [`?before=${crypto.randomUUID()}`, "before"], // a v4 UUID is no message id
      ["?before=", "before"],
    ] as const) {
      const problem = await expectProblem(await h.read(room, null, query), 400);
      expect({ query, paths: errorPaths(problem) }).toEqual({ query, paths: [path] });
    }
    expect(await history(room, null, "?limit=100")).toEqual([]);
    expect(await history(room, null, `?limit=1&before=${Bun.randomUUIDv7().toUpperCase()}`)).toEqual([]);
  });
});

describe("text", () => {
  const cp = (n: number, ch = "a") => ch.repeat(n);

  test("1 and 2000 code points are accepted; 0 and 2001 are refused with 400 naming text", async () => {
    const room = await h.campaignRoom();
    expect((await posted(room, rafiq, { text: cp(1) })).text).toBe("a");
    expect((await posted(room, rafiq, { text: cp(2000) })).text).toHaveLength(2000);
    for (const text of ["", cp(2001)]) {
      const problem = await expectProblem(await h.post(room, rafiq, { text }), 400);
      expect(errorPaths(problem)).toEqual(["text"]);
    }
    expect(await history(room, null)).toHaveLength(2);
  });

  test("characters are code points: 2000 emoji (4000 UTF-16 units) fit, 2001 do not", async () => {
    const room = await h.campaignRoom();
    const emoji = "😀";
    expect(emoji.length).toBe(2);
    expect((await posted(room, rafiq, { text: cp(2000, emoji) })).text).toBe(cp(2000, emoji));
    expect(errorPaths(await expectProblem(await h.post(room, rafiq, { text: cp(2001, emoji) }), 400))).toEqual([
      "text",
    ]);
  });

  test("Bengali text is stored and read back exactly, combining signs counted as the code points they are", async () => {
    const room = await h.campaignRoom();
    const bengali = "কূপটি কবে শেষ হবে? ধন্যবাদ 🙏";
    expect((await posted(room, ayesha, { text: bengali })).text).toBe(bengali);
    // "কূ" is two code points (ক + ূ): 1000 of them are 2000 code points, accepted; one more is not.
    expect((await posted(room, ayesha, { text: "কূ".repeat(1000) })).text).toBe("কূ".repeat(1000));
    await expectProblem(await h.post(room, ayesha, { text: `${"কূ".repeat(1000)}ক` }), 400);
    expect((await history(room, null)).map((m) => m.text)).toEqual(["কূ".repeat(1000), bengali]);
  });

  test("NUL and a lone surrogate are refused (400 naming text), wherever they sit", async () => {
    const room = await h.campaignRoom();
    for (const raw of ['{"text":"a\\u0000b"}', '{"text":"\\ud800"}', '{"text":"ok \\udc00 then"}']) {
      const problem = await expectProblem(await h.post(room, rafiq, raw), 400);
      expect({ raw, paths: errorPaths(problem) }).toEqual({ raw, paths: ["text"] });
    }
    await expectProblem(await h.post(room, rafiq, '{"text":"fine","clientId":"\\ud83d"}'), 400);
    expect(await history(room, null)).toEqual([]);
  });

  test("HTML-ish text is stored and returned verbatim, never escaped or interpreted", async () => {
    const room = await h.campaignRoom();
    const texts = [
      `<script>alert("x")</script>`,
      `<img src=x onerror=alert(1)> & &amp; &lt; "quoted" 'single'`,
      "**markdown** [link](javascript:alert(1)) `code`\nsecond line\ttab",
      "   spaces around   ",
    ];
    for (const text of texts) expect((await posted(room, rafiq, { text })).text).toBe(text);
    expect((await history(room, null)).map((m) => m.text)).toEqual([...texts].reverse());
    const rows = await h.db.execute<{ text: string }>(
      sql`select text from chat.messages where room = ${room} order by id`,
    );
    expect(rows.map((r) => r.text)).toEqual(texts);
  });

  test("a clientId is 1..64 characters and a body needs text", async () => {
    const room = await h.campaignRoom();
    expect(errorPaths(await expectProblem(await h.post(room, rafiq, { text: "x", clientId: "" }), 400))).toEqual([
      "clientId",
    ]);
    expect(
      errorPaths(await expectProblem(await h.post(room, rafiq, { text: "x", clientId: "c".repeat(65) }), 400)),
    ).toEqual(["clientId"]);
    expect(errorPaths(await expectProblem(await h.post(room, rafiq, {}), 400))).toEqual(["text"]);
    expect(errorPaths(await expectProblem(await h.post(room, rafiq, { text: 5 }), 400))).toEqual(["text"]);
    expect((await posted(room, rafiq, { text: "x", clientId: "c".repeat(64) })).clientId).toBe("c".repeat(64));
  });
});

describe("retries with the same clientId", () => {
  test("parallel posts with one clientId store one message and all answer with it; one frame is pushed", async () => {
    const room = await h.campaignRoom();
    const live = h.record(`chat.${room}`);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => h.post(room, ayesha, { text: "only once", clientId: "retry-1" })),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(201));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as MessageBody[];
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(answers.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(11);
    expect(await history(room, null)).toEqual([bodies[0] as MessageBody]);

    // A later, sequential retry is answered the same way.
    const again = await h.post(room, ayesha, { text: "only once", clientId: "retry-1" });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(bodies[0] as MessageBody);

    await waitFor(() => live.frames.length >= 1, { what: "the frame" });
    // Another message after it proves the fan-out is delivering, so a second frame would have shown.
    await posted(room, ayesha, { text: "next" });
    await waitFor(() => live.frames.length >= 2, { what: "the next frame" });
    expect(live.frames.map((f) => f.text)).toEqual(["only once", "next"]);
    live.stop();
  });

  test("the same clientId from another user is another message; for another text it is refused (422)", async () => {
    const room = await h.campaignRoom();
    const mine = await posted(room, ayesha, { text: "mine", clientId: "shared" });
    const theirs = await posted(room, rafiq, { text: "theirs", clientId: "shared" });
    expect(theirs.id).not.toBe(mine.id);
    const problem = await expectProblem(await h.post(room, ayesha, { text: "edited", clientId: "shared" }), 422);
    expect(problem.type).toBe("https://careforall.dev/problems/client-id-reused");
    const other = await h.campaignRoom();
    await expectProblem(await h.post(other, ayesha, { text: "mine", clientId: "shared" }), 422);
    expect((await history(room, null)).map((m) => m.text)).toEqual(["theirs", "mine"]);
    expect(await history(other, null)).toEqual([]);
  });

  test("messages without a clientId are never taken for retries of each other", async () => {
    const room = await h.campaignRoom();
    await posted(room, rafiq, { text: "same" });
    await posted(room, rafiq, { text: "same" });
    expect(await history(room, null)).toHaveLength(2);
  });
});

describe("the live push", () => {
  test("every stored message gives exactly one chat.message frame on chat.<room>, every field as stored", async () => {
    const room = await h.campaignRoom();
    const otherRoom = await h.campaignRoom();
    const live = h.record(`chat.${room}`);
    const elsewhere = h.record(`chat.${otherRoom}`);
    const sent = [
      await posted(room, ayesha, { text: "first", clientId: "opt-1" }),
      await posted(room, rafiq, { text: "<b>second</b>" }),
      await posted(room, ayesha, { text: "তৃতীয়" }),
    ];
    await expectProblem(await h.post(room, rafiq, { text: "" }), 400); // refused: no frame
    await waitFor(() => live.frames.length >= 3, { what: "three frames" });
    const marker = await posted(room, rafiq, { text: "marker" });
    await waitFor(() => live.frames.length >= 4, { what: "the marker's frame" });

    expect(live.frames).toEqual([...sent, marker].map((m) => ({ type: "chat.message", ...m })));
    const first = live.frames[0] as Record<string, unknown>;
    expect(Object.keys(first).sort()).toEqual(["at", "clientId", "id", "name", "room", "text", "type", "userId"]);
    expect(first).toEqual({
      type: "chat.message",
      id: sent[0]?.id,
      room,
      userId: ayesha.id,
      name: ayesha.name,
      text: "first",
      at: sent[0]?.at,
      clientId: "opt-1",
    });
    expect(Object.keys(live.frames[1] as object)).not.toContain("clientId");
    expect(elsewhere.frames).toEqual([]);
    live.stop();
    elsewhere.stop();
  });

  test("under concurrent posts from many users, retries included, frames and stored messages match one to one", async () => {
    const room = await h.campaignRoom();
    const live = h.record(`chat.${room}`);
    const posters = Array.from({ length: 8 }, (_, i) => user(`Poster ${i}`));
    // Each poster sends 4 messages, each twice at once (a retry racing its original), plus 2 without clientId.
    const sends = posters.flatMap((p, i) => [
      ...Array.from({ length: 4 }, (_, j) =>
        [0, 1].map(() => h.post(room, p, { text: `${i}.${j}`, clientId: `p${i}-${j}` })),
      ).flat(),
      h.post(room, p, { text: `${i}.plain-a` }),
      h.post(room, p, { text: `${i}.plain-b` }),
    ]);
    const answers = await Promise.all(sends);
    expect(answers.every((r) => r.status === 201)).toBe(true);
    const stored = await history(room, null, "?limit=100");
    expect(stored).toHaveLength(8 * 6);
    await waitFor(() => live.frames.length >= stored.length, { what: "a frame per stored message" });
    const marker = await posted(room, ayesha, { text: "marker" });
    await waitFor(() => live.frames.some((f) => f.id === marker.id), { what: "the marker's frame" });
    const frames = live.frames.filter((f) => f.id !== marker.id);
    expect(frames).toHaveLength(stored.length);
    const byId = new Map(stored.map((m) => [m.id, m]));
    for (const frame of frames) {
      const { type, ...message } = frame;
      expect(type).toBe("chat.message");
      expect(message).toEqual(byId.get(String(frame.id)) as unknown as Record<string, unknown>);
    }
    expect(new Set(frames.map((f) => f.id)).size).toBe(stored.length);
    live.stop();
  });
});
