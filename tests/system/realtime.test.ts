// Real time across replicas (issue 10), on the real processes: the whole platform plus a second
// gateway process, sockets on both. One captured donation gives exactly one new campaign.totals on
// each replica's follower; a donor's pledge.status and notifications reach that donor's sockets on
// both replicas and nobody else's; a guest follows a pledge with its receipt token; chat said on
// one replica is heard on the other; operators (and only they) hear of a pledge held past its
// grace period by the bank's fault knobs and of a burst of forged webhook signatures; and the
// notification service SIGKILLed in the middle of a donation run loses no stored notification and
// pushes none twice.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Frame, TestSocket, waitFor } from "@careforall/testkit";
import {
  ADMIN,
  call,
  createCampaign,
  expectCall,
  login,
  mapLimited,
  openDemoAccount,
  register,
  type Session,
  uniqueEmail,
  useSystem,
} from "./support";

const sys = useSystem({
  label: "realtime",
  env: { RECONCILE_AFTER_MS: "1500", RECONCILE_INTERVAL_MS: "500", AUDIT_INTERVAL_SECONDS: "0" },
  serviceEnv: {
    // A pledge not terminal 3 s after it was created is stuck (the bank's latency knob holds one).
    notification: { PLEDGE_STUCK_AFTER_SECONDS: "3", STUCK_SWEEP_INTERVAL_MS: "200" },
    payment: { WEBHOOK_SIGNATURE_ALARM_THRESHOLD: "5", WEBHOOK_SIGNATURE_ALARM_WINDOW_SECONDS: "60" },
  },
});

/** The second gateway process (same services, own port). */
let gw2 = "";
let admin: Session;
let owner: Session;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw2 = (await sys.stack.replica("gateway")).url;
  admin = await login(sys.gw, ADMIN.email, ADMIN.password);
  owner = await register(sys.gw, "Realtime Owner");
}, 60_000);

afterAll(() => {
  for (const s of sockets) s.close();
});

async function socket(gw: string, session?: Session): Promise<TestSocket> {
  const s = await TestSocket.open(`${gw}/api/ws${session ? `?token=${session.accessToken}` : ""}`);
  sockets.push(s);
  // Its own topics (user.<id>, admins) are held once the first frame is answered.
  await s.barrier();
  return s;
}

const newCampaign = (title: string, goalMinor = 10_000_000) =>
  createCampaign(sys.gw, owner, title, { description: "Real-time test", goalMinor });

/** Follows on `s` once the replica knows the campaign; returns the totals frame the follow answered with. */
async function follow(s: TestSocket, campaignId: string): Promise<Frame> {
  return waitFor(
    async () => {
      const before = s.frames.length;
      s.send({ op: "follow", campaignId });
      await s.barrier();
      return s.frames.slice(before).find((f) => f.type === "campaign.totals" && f.campaignId === campaignId) ?? null;
    },
    { what: `campaign ${campaignId} followed`, intervalMs: 100, timeoutMs: 15_000 },
  );
}

interface Pledge {
  id: string;
  status: string;
  receiptToken?: string;
  failureReason: string | null;
}

/** A signed-in donor's pledge from their own account (retried with its key while pledge does not know the campaign yet). */
async function donate(session: Session | null, campaignId: string, amountMinor: number): Promise<Pledge> {
  const key = `rt-${crypto.randomUUID()}`;
  const body: Record<string, unknown> = { amountMinor, currency: "BDT" };
  if (!session) {
    const account = await openDemoAccount(sys.gw);
    body.donor = { email: uniqueEmail("rt-guest"), name: "Realtime Guest" };
    body.source = { bankAccountId: account.bankAccountId, accountSecret: account.accountSecret };
  }
  return waitFor(
    async () => {
      const reply = await call<Pledge>(sys.gw, "POST", `/api/campaigns/${campaignId}/pledges`, body, {
        token: session?.accessToken,
        headers: { "idempotency-key": key },
      });
      if (reply.status === 202) return reply.body;
      if (reply.status === 404) return undefined;
      throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: "the pledge to be accepted" },
  );
}

async function readPledge(p: Pledge, session: Session | null): Promise<Pledge> {
  return expectCall<Pledge>(200, sys.gw, "GET", `/api/pledges/${p.id}`, undefined, {
    ...(session ? { token: session.accessToken } : { headers: { "x-receipt-token": p.receiptToken ?? "" } }),
  });
}

async function waitStatus(p: Pledge, session: Session | null, status: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await readPledge(p, session)).status === status, {
    timeoutMs,
    intervalMs: 100,
    what: `pledge ${p.id} to be ${status}`,
  });
}

/** A window in which something must NOT arrive; only ever after the positive outcome was awaited. */
const quietWindow = (ms = 500) => Bun.sleep(ms);

const ofPledge = (s: TestSocket, type: string, pledgeId: string) =>
  s.frames.filter((f) => f.type === type && f.pledgeId === pledgeId);

describe("two gateway processes", () => {
  test("one captured donation gives exactly one new campaign.totals on each replica's follower, with the right numbers", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Totals on both replicas");
      const [a, b] = await Promise.all([socket(sys.gw), socket(gw2)]);
      const [firstA, firstB] = await Promise.all([follow(a, campaignId), follow(b, campaignId)]);
      expect(firstA).toMatchObject({ raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
      expect(firstB).toMatchObject({ raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
      const seenBefore = [a.of("campaign.totals").length, b.of("campaign.totals").length];

      const pledge = await donate(null, campaignId, 2_500);
      await waitStatus(pledge, null, "captured");
      const expected = { type: "campaign.totals", campaignId, raisedMinor: 2_500, donorCount: 1, pledgeCount: 1 };
      for (const s of [a, b]) await s.next((f) => f.type === "campaign.totals" && f.raisedMinor === 2_500, "totals");
      await quietWindow();
      expect(a.of("campaign.totals").slice(seenBefore[0])).toEqual([expected]);
      expect(b.of("campaign.totals").slice(seenBefore[1])).toEqual([expected]);
      // And the HTTP read agrees.
      const read = await expectCall<{ raisedMinor: number }>(200, gw2, "GET", `/api/campaigns/${campaignId}`);
      expect(read.raisedMinor).toBe(2_500);
    });
  }, 60_000);

  test("pledge.status and the donor's notifications reach the donor's sockets on both replicas once, nobody else's", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Own pledges only");
      const [donor, other] = await Promise.all([register(sys.gw, "অমিত রায়"), register(sys.gw, "Other Donor")]);
      const [mine1, mine2, theirs, operator] = await Promise.all([
        socket(sys.gw, donor),
        socket(gw2, donor),
        socket(gw2, other),
        socket(sys.gw, admin),
      ]);
      const pledge = await donate(donor, campaignId, 7_700);
      await waitStatus(pledge, donor, "captured");

      for (const s of [mine1, mine2]) {
        await s.next(
          (f) => f.type === "pledge.status" && f.pledgeId === pledge.id && f.status === "captured",
          "captured",
        );
        await s.next((f) => f.type === "notification" && f.pledgeId === pledge.id, "the captured notification");
      }
      await quietWindow();
      for (const s of [mine1, mine2]) {
        const statuses = ofPledge(s, "pledge.status", pledge.id);
        expect(statuses.map((f) => f.status)).toEqual(["authorized", "captured"]);
        expect(statuses.at(-1)).toEqual({
          type: "pledge.status",
          pledgeId: pledge.id,
          campaignId,
          status: "captured",
          failureReason: null,
        });
        const notes = ofPledge(s, "notification", pledge.id);
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatchObject({ kind: "pledge.captured", campaignId });
        expect(notes[0]?.body).toContain("Own pledges only");
      }
      for (const s of [theirs, operator]) {
        expect(ofPledge(s, "pledge.status", pledge.id)).toEqual([]);
        expect(ofPledge(s, "notification", pledge.id)).toEqual([]);
      }

      // Stored: the donor finds it later through either replica; the other user does not.
      const listed = await expectCall<{ items: Array<{ id: string; pledgeId?: string; readAt: string | null }> }>(
        200,
        gw2,
        "GET",
        "/api/notifications",
        undefined,
        { token: donor.accessToken },
      );
      const stored = listed.items.filter((n) => n.pledgeId === pledge.id);
      expect(stored).toHaveLength(1);
      expect(stored[0]?.id).toBe(mine1.frames.find((f) => f.type === "notification")?.id);
      const foreign = await expectCall<{ items: unknown[] }>(200, sys.gw, "GET", "/api/notifications", undefined, {
        token: other.accessToken,
      });
      expect(foreign.items).toEqual([]);
      expect(
        (
          await call(sys.gw, "POST", `/api/notifications/${stored[0]?.id}/read`, undefined, {
            token: other.accessToken,
          })
        ).status,
      ).toBe(404);
      expect(
        (await call(gw2, "POST", `/api/notifications/${stored[0]?.id}/read`, undefined, { token: donor.accessToken }))
          .status,
      ).toBe(204);
      const unread = await expectCall<{ items: unknown[] }>(
        200,
        sys.gw,
        "GET",
        "/api/notifications?unread=true",
        undefined,
        {
          token: donor.accessToken,
        },
      );
      expect(unread.items).toEqual([]);
    });
  }, 60_000);

  test("a guest follows their own pledge with its receipt token, on the other replica; a wrong token is refused", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Guest receipt");
      const pledge = await donate(null, campaignId, 1_200);
      const watcher = await socket(gw2);
      watcher.send({ op: "follow", pledgeId: pledge.id, receiptToken: "not-the-token" });
      await watcher.barrier();
      expect(watcher.of("error").map((f) => f.code)).toEqual(["not_found"]);
      watcher.send({ op: "follow", pledgeId: pledge.id, receiptToken: pledge.receiptToken });
      await watcher.barrier();
      await waitStatus(pledge, null, "captured");
      // Subscribed after the pledge may already have moved: the frames that came are in order and end at captured.
      const current = await readPledge(pledge, null);
      expect(current.status).toBe("captured");
      const seen = ofPledge(watcher, "pledge.status", pledge.id).map((f) => f.status);
      expect(seen).toEqual(
        [...seen].sort((x, y) => ["authorized", "captured"].indexOf(x) - ["authorized", "captured"].indexOf(y)),
      );
      expect(watcher.of("error")).toHaveLength(1);
    });
  }, 60_000);

  test("chat said on one replica is heard once on the other, with its clientId; history pages through the gateway", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Chat across replicas");
      const room = `campaign:${campaignId}`;
      const [speaker, listener] = await Promise.all([register(sys.gw, "নুসরাত"), register(sys.gw, "Listener")]);
      const [talk, hear, anonymous] = await Promise.all([socket(sys.gw, speaker), socket(gw2, listener), socket(gw2)]);
      for (const s of [talk, hear, anonymous]) {
        await follow(s, campaignId);
        s.send({ op: "join", room });
        await s.barrier();
        expect(s.of("error")).toEqual([]);
      }
      // Chat learns of the campaign from the bus: say until it is accepted (an error frame means not yet).
      await waitFor(
        async () => {
          const errors = talk.of("error").length;
          talk.send({ op: "say", room, text: "কবে শেষ হবে? <b>1</b>", clientId: "first" });
          await talk.barrier();
          return talk.of("error").length === errors;
        },
        { what: "chat to accept the first message", intervalMs: 200, timeoutMs: 15_000 },
      );
      for (const s of [talk, hear, anonymous]) await s.next((f) => f.type === "chat.message", "the message");
      await quietWindow();
      for (const s of [talk, hear, anonymous]) {
        expect(s.of("chat.message")).toEqual([
          {
            type: "chat.message",
            id: expect.any(String),
            room,
            userId: speaker.user.id,
            name: "নুসরাত",
            text: "কবে শেষ হবে? <b>1</b>",
            at: expect.any(String),
            clientId: "first",
          },
        ]);
      }
      // Anonymous sockets read but may not post.
      anonymous.send({ op: "say", room, text: "hi" });
      await anonymous.barrier();
      expect(anonymous.of("error").map((f) => f.code)).toEqual(["unauthorized"]);

      for (let i = 2; i <= 5; i++) talk.send({ op: "say", room, text: `message ${i}`, clientId: `m${i}` });
      await hear.next((f) => f.type === "chat.message" && f.clientId === "m5", "the fifth message");
      const first = await expectCall<Array<{ id: string; text: string }>>(
        200,
        gw2,
        "GET",
        `/api/chat/rooms/${encodeURIComponent(room)}/messages?limit=3`,
      );
      expect(first.map((m) => m.text)).toEqual(["message 5", "message 4", "message 3"]);
      const rest = await expectCall<Array<{ id: string; text: string }>>(
        200,
        sys.gw,
        "GET",
        `/api/chat/rooms/${encodeURIComponent(room)}/messages?limit=3&before=${first.at(-1)?.id}`,
      );
      expect(rest.map((m) => m.text)).toEqual(["message 2", "কবে শেষ হবে? <b>1</b>"]);
    });
  }, 60_000);

  test("a support room: its user and the admins hear it; another user may not join it", async () => {
    await sys.guard(async () => {
      const [user, intruder] = await Promise.all([register(sys.gw, "Needs Help"), register(sys.gw, "Intruder")]);
      const room = `support:${user.user.id}`;
      const [mine, staff, other] = await Promise.all([socket(sys.gw, user), socket(gw2, admin), socket(gw2, intruder)]);
      for (const s of [mine, staff, other]) {
        s.send({ op: "join", room });
        await s.barrier();
      }
      expect(other.of("error").map((f) => f.code)).toEqual(["forbidden"]);
      mine.send({ op: "say", room, text: "My receipt did not arrive", clientId: "help-1" });
      await staff.next((f) => f.type === "chat.message" && f.clientId === "help-1", "the support message at the admin");
      await mine.next((f) => f.type === "chat.message" && f.clientId === "help-1", "the echo to its sender");
      await quietWindow();
      expect(other.of("chat.message")).toEqual([]);
      expect(
        (await call(sys.gw, "GET", `/api/chat/rooms/${room}/messages`, undefined, { token: intruder.accessToken }))
          .status,
      ).toBe(404);
    });
  }, 60_000);
});

describe("operators hear of trouble before donors do", () => {
  test("a pledge held past its grace period by the bank's latency knob: pledge.stuck to admins only", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Stuck pledge");
      const donor = await register(sys.gw, "Patient Donor");
      const [operator, donorSocket] = await Promise.all([socket(gw2, admin), socket(sys.gw, donor)]);
      const faults = (body: Record<string, number | boolean>) =>
        expectCall(200, sys.gw, "PUT", "/api/admin/bank/faults", body, { token: admin.accessToken });
      await faults({ latencyMs: 6_000 });
      let pledge: Pledge;
      try {
        pledge = await donate(donor, campaignId, 3_300);
        await operator.next(
          (f) => f.type === "notification" && f.kind === "pledge.stuck" && f.pledgeId === pledge.id,
          "pledge.stuck at the admin",
          1,
          20_000,
        );
      } finally {
        await faults({ latencyMs: 0 });
      }
      await waitStatus(pledge, donor, "captured", 60_000);
      await quietWindow();
      expect(donorSocket.frames.filter((f) => f.type === "notification" && f.kind === "pledge.stuck")).toEqual([]);
      expect(operator.frames.filter((f) => f.kind === "pledge.stuck" && f.pledgeId === pledge.id)).toHaveLength(1);
      const listed = await expectCall<{ items: Array<{ kind: string; pledgeId?: string }> }>(
        200,
        sys.gw,
        "GET",
        "/api/notifications?limit=100",
        undefined,
        { token: admin.accessToken },
      );
      expect(listed.items.filter((n) => n.kind === "pledge.stuck" && n.pledgeId === pledge.id)).toHaveLength(1);
      const donorList = await expectCall<{ items: Array<{ kind: string }> }>(
        200,
        gw2,
        "GET",
        "/api/notifications",
        undefined,
        {
          token: donor.accessToken,
        },
      );
      expect(donorList.items.map((n) => n.kind)).toEqual(["pledge.captured"]);
    });
  }, 120_000);

  test("a burst of forged webhook signatures: one webhook.signature_failures to admins only", async () => {
    await sys.guard(async () => {
      const donor = await register(sys.gw, "Bystander");
      const [operator, bystander] = await Promise.all([socket(sys.gw, admin), socket(gw2, donor)]);
      const forged = JSON.stringify({ id: crypto.randomUUID(), type: "hold.captured", data: {} });
      for (let i = 0; i < 8; i++) {
        const reply = await call(sys.gw, "POST", "/api/webhooks/bank", JSON.parse(forged), {
          headers: { "bank-signature": `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` },
        });
        expect(reply.status).toBe(400);
      }
      await operator.next((f) => f.type === "notification" && f.kind === "webhook.signature_failures", "the alarm");
      await quietWindow(1_000);
      expect(operator.frames.filter((f) => f.kind === "webhook.signature_failures")).toHaveLength(1);
      expect(bystander.frames.filter((f) => f.type === "notification")).toEqual([]);
    });
  }, 60_000);
});

describe("the notification service SIGKILLed in the middle of a donation run", () => {
  test("every captured pledge has exactly one stored notification, and none was pushed twice", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Notification crash");
      const donor = await register(sys.gw, "Crash Donor");
      const [s1, s2] = await Promise.all([socket(sys.gw, donor), socket(gw2, donor)]);
      const amounts = Array.from({ length: 24 }, (_, i) => 100 + i);
      const pledges: Pledge[] = [];
      const run = mapLimited(amounts, 4, async (amount) => {
        pledges.push(await donate(donor, campaignId, amount));
      });
      // Killed once some notifications are out, while the rest are still coming.
      await s1.next((f) => f.type === "notification", "the first notification", 3, 60_000);
      await sys.stack.kill("notification");
      await run;
      await sys.restart("notification");
      for (const p of pledges) await waitStatus(p, donor, "captured", 60_000);

      const stored = await waitFor(
        async () => {
          const page = await expectCall<{ items: Array<{ id: string; kind: string; pledgeId?: string }> }>(
            200,
            sys.gw,
            "GET",
            "/api/notifications?limit=100",
            undefined,
            { token: donor.accessToken },
          );
          return page.items.length >= pledges.length ? page.items : null;
        },
        { what: "a notification for every pledge", timeoutMs: 60_000, intervalMs: 200 },
      );
      await quietWindow(1_000);
      expect(stored).toHaveLength(pledges.length);
      expect(new Set(stored.map((n) => n.pledgeId))).toEqual(new Set(pledges.map((p) => p.id)));
      expect(stored.every((n) => n.kind === "pledge.captured")).toBe(true);
      for (const s of [s1, s2]) {
        const pushed = s.of("notification").map((f) => f.id as string);
        expect(pushed.length).toBe(new Set(pushed).size);
        for (const p of pledges) {
          const statuses = ofPledge(s, "pledge.status", p.id).map((f) => `${f.status}`);
          expect({ pledge: p.id, statuses: statuses.length === new Set(statuses).size }).toEqual({
            pledge: p.id,
            statuses: true,
          });
        }
      }
    });
  }, 240_000);
});
