// The per-user post limit (CHAT_RATE_PER_10S, here 3): the fourth post in a window is 429 with
// Retry-After, stores and pushes nothing, and is counted on /metrics; other users and the next
// window are unaffected, and reads are never limited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { type ChatTestApp, expectProblem, startChatTestApp, user, waitFor } from "./support";

let h: ChatTestApp;
beforeAll(async () => {
  h = await startChatTestApp({ ratePer10s: 3 });
});
afterAll(() => h.stop());

const metric = async (name: string) => {
  const text = await (await h.app.handle(new Request("http://localhost/metrics"))).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
};

test("the fourth post in 10 s is refused with 429 and Retry-After, with no message and no frame", async () => {
  const room = await h.campaignRoom();
  const live = h.record(`chat.${room}`);
  const spammer = user("Spammer");
  const quiet = user("Quiet");
  for (let i = 0; i < 3; i++) expect((await h.post(room, spammer, { text: `m${i}` })).status).toBe(201);

  const refused = await h.post(room, spammer, { text: "one too many" });
  const problem = await expectProblem(refused, 429);
  expect(problem.type).toBe("https://careforall.dev/problems/rate-limited");
  const retryAfter = Number(refused.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(10);
  expect(await metric("careforall_chat_posts_rate_limited_total")).toBe(1);
  expect(await metric("careforall_chat_messages_stored_total")).toBe(3);

  // The limit is per user: someone else still posts; reads are not limited.
  expect((await h.post(room, quiet, { text: "hello" })).status).toBe(201);
  for (let i = 0; i < 10; i++) expect((await h.read(room, spammer)).status).toBe(200);

  // Every room counts together: another room does not reset it.
  await expectProblem(await h.post(await h.campaignRoom(), spammer, { text: "elsewhere" }), 429);

  await waitFor(() => live.frames.length >= 4, { what: "four frames" });
  const texts = (
    await h.db.execute<{ text: string }>(sql`select text from chat.messages where room = ${room} order by id`)
  ).map((r) => r.text);
  expect(texts).toEqual(["m0", "m1", "m2", "hello"]);
  expect(live.frames.map((f) => f.text)).toEqual(texts);
  live.stop();

  // The next window: posting again works.
  h.clock.advance(10_000);
  expect((await h.post(room, spammer, { text: "later" })).status).toBe(201);
});

test("parallel posts cannot slip past the limit: exactly the limit is stored", async () => {
  const room = await h.campaignRoom();
  const burst = user("Burst");
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => h.post(room, burst, { text: `b${i}` })));
  expect(answers.filter((r) => r.status === 201)).toHaveLength(3);
  expect(answers.filter((r) => r.status === 429)).toHaveLength(7);
  const [row] = await h.db.execute<{ n: number }>(
    sql`select count(*)::int as n from chat.messages where room = ${room}`,
  );
  expect(row?.n).toBe(3);
});
