// chatService booted by bootService on the embedded profile (PGlite, the in-memory bus, cache and
// fan-out), as the one-process platform runs it: its migrations apply on PGlite, campaign.created
// on the bus opens the room, and a post — retried with its clientId — is stored once and pushed once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootForTest, campaignSnapshot, type TestBootFor, waitFor } from "@careforall/testkit";
import { chatService } from "../src/main";
import { campaignEvent, type MessageBody, user } from "./support";

let t: TestBootFor<"embedded", unknown>;

beforeAll(async () => {
  t = await bootForTest(chatService, { label: "chat", profile: "embedded" });
}, 120_000); // PGlite's first start takes tens of seconds on a loaded machine

afterAll(() => t?.close());

test("on PGlite and the in-memory bus: the room opens from campaign.created, a retried post is stored and pushed once", async () => {
  const campaign = campaignSnapshot();
  const room = `campaign:${campaign.id}`;
  const poster = user("Nusrat");
  const frames: string[] = [];
  const unsubscribe = t.replicas[0]!.subscribe(`chat.${room}`, (json) => frames.push(json));
  const post = (text: string, clientId: string) =>
    t.call("POST", `/rooms/${room}/messages`, { as: poster, body: { text, clientId } });

  expect((await post("too early", "e-1")).status).toBe(404);
  await t.bus.publish(campaignEvent("campaign.created", campaign));
  const first = await waitFor(
    async () => {
      const res = await post("প্রশ্ন আছে", "q-1");
      return res.status === 201 ? ((await res.json()) as MessageBody) : null;
    },
    { what: "the room to open" },
  );
  const answers = await Promise.all([post("প্রশ্ন আছে", "q-1"), post("প্রশ্ন আছে", "q-1")]);
  expect(await Promise.all(answers.map((r) => r.json()))).toEqual([first, first]);
  const next = (await (await post("next", "q-2")).json()) as MessageBody;

  await waitFor(() => frames.length >= 2, { what: "two frames" });
  expect(frames.map((json) => JSON.parse(json))).toEqual([
    { type: "chat.message", ...first },
    { type: "chat.message", ...next },
  ]);
  const history = await t.call("GET", `/rooms/${room}/messages`);
  expect(((await history.json()) as MessageBody[]).map((m) => m.text)).toEqual(["next", "প্রশ্ন আছে"]);
  unsubscribe();
});
