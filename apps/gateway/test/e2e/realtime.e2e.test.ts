// GET /api/ws through the real platform (every service its own process): a guest follows its own
// pledge with the receipt token and watches it go authorized → captured while the campaign's
// followers see the totals move; a signed-in donor's sockets get their pledge's status and the
// stored notification, another donor's nothing; a campaign room's chat reaches an anonymous reader.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { type Frame, TestSocket } from "../realtime-harness";
import { accepted, donor, moneyEnv, SLOW } from "./money";
import { type Account, type Campaign, call, createCampaign, register, useStack } from "./support";

const e2e = useStack(moneyEnv(), { label: "gw_ws" });
const sockets: TestSocket[] = [];
let owner: Account;
let campaign: Campaign;

async function connect(token?: string): Promise<TestSocket> {
  const socket = await TestSocket.open(`${e2e.gw.replace("http", "ws")}/api/ws${token ? `?token=${token}` : ""}`);
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  owner = await register(e2e.gw, { name: "Organiser" });
  campaign = await createCampaign(e2e.gw, owner.token);
});

afterAll(() => {
  for (const s of sockets) s.close();
});

/** Follows the campaign once the gateway knows it, returning the first totals frame. */
async function follow(socket: TestSocket, campaignId: string): Promise<Frame> {
  socket.send({ op: "follow", campaignId });
  return socket.next((f) => f.type === "campaign.totals" && f.campaignId === campaignId, "the current totals");
}

describe("guests", () => {
  test("a guest follows its pledge with the receipt token: authorized then captured; followers see the totals move", async () => {
    const guest = await connect();
    const follower = await connect();
    expect(await follow(follower, campaign.id)).toMatchObject({ raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
    // The slow test account: the bank takes ~3 s to authorize, so the follow is in place first.
    // Retried while the new campaign reaches the pledge service (404 until then).
    const created = await waitFor(
      () =>
        accepted(e2e.gw, campaign.id, {
          amountMinor: 40_000,
          currency: "BDT",
          donor: { email: "karim@example.org", name: "Karim" },
          source: SLOW,
        }),
      { what: "the pledge accepted", intervalMs: 100 },
    );
    guest.send({ op: "follow", pledgeId: created.id, receiptToken: created.receiptToken });
    guest.send({ op: "follow", pledgeId: created.id, receiptToken: "rcpt_wrong" });
    await guest.barrier();
    expect(guest.of("error")).toEqual([]);
    const other = await connect();
    other.send({ op: "follow", pledgeId: created.id, receiptToken: "rcpt_wrong" });
    await other.next((f) => f.type === "error" && f.code === "not_found", "a wrong receipt token refused");

    const captured = await guest.next(
      (f) => f.type === "pledge.status" && f.status === "captured",
      "captured on the guest's socket",
      1,
      20_000,
    );
    expect(captured).toEqual({
      type: "pledge.status",
      pledgeId: created.id,
      campaignId: campaign.id,
      status: "captured",
      failureReason: null,
    });
    expect(guest.of("pledge.status").map((f) => f.status)).toEqual(["authorized", "captured"]);
    const moved = await follower.next((f) => f.raisedMinor === 40_000, "the totals moved", 1, 20_000);
    expect(moved).toEqual({
      type: "campaign.totals",
      campaignId: campaign.id,
      raisedMinor: 40_000,
      donorCount: 1,
      pledgeCount: 1,
    });
    // The HTTP read agrees.
    const read = await call<{ raisedMinor: number }>(e2e.gw, "GET", `/api/campaigns/${campaign.id}`);
    expect(read.body.raisedMinor).toBe(40_000);
  }, 30_000);
});

describe("signed-in donors", () => {
  test("the donor's sockets get their pledge's status and the stored notification; another donor's get nothing", async () => {
    const giver = await donor(e2e.gw, "Ayesha");
    const stranger = await register(e2e.gw, { name: "Rafiq" });
    const mine = [await connect(giver.token), await connect(giver.token)];
    const theirs = await connect(stranger.token);
    await Promise.all([...mine, theirs].map((s) => s.barrier()));
    const created = await accepted(
      e2e.gw,
      campaign.id,
      { amountMinor: 15_000, currency: "BDT" },
      { token: giver.token },
    );
    for (const s of mine) {
      await s.next(
        (f) => f.type === "pledge.status" && f.pledgeId === created.id && f.status === "captured",
        "captured",
        1,
        20_000,
      );
      const note = await s.next((f) => f.type === "notification", "the notification", 1, 20_000);
      expect(note).toMatchObject({ kind: "pledge.captured", pledgeId: created.id, campaignId: campaign.id });
    }
    await theirs.barrier();
    expect(theirs.frames.filter((f) => f.type !== "pong")).toEqual([]);
    const listed = await waitFor(
      async () => {
        const reply = await call<{ items: Frame[] }>(e2e.gw, "GET", "/api/notifications", undefined, {
          token: giver.token,
        });
        return reply.body.items.length > 0 ? reply.body.items : null;
      },
      { what: "the stored notification" },
    );
    expect(listed.map((n) => [n.kind, n.pledgeId])).toEqual([["pledge.captured", created.id]]);
  }, 30_000);
});

describe("chat", () => {
  test("a signed-in donor's message in the campaign room reaches an anonymous reader, with the clientId", async () => {
    const speaker = await register(e2e.gw, { name: "Nusrat" });
    const talker = await connect(speaker.token);
    const reader = await connect();
    const room = `campaign:${campaign.id}`;
    for (const s of [talker, reader]) s.send({ op: "join", room });
    await Promise.all([talker.barrier(), reader.barrier()]);
    expect([...talker.of("error"), ...reader.of("error")]).toEqual([]);
    talker.send({ op: "say", room, text: "When will the wells be dug?", clientId: "c-1" });
    const heard = await reader.next((f) => f.type === "chat.message", "the message");
    expect(heard).toMatchObject({ room, userId: speaker.session.user.id, name: "Nusrat", clientId: "c-1" });
    const history = await call<Frame[]>(e2e.gw, "GET", `/api/chat/rooms/${room}/messages`);
    expect(history.body.map((m) => m.text)).toEqual(["When will the wells be dug?"]);
  }, 30_000);
});
