// Creating pledges over HTTP against real PostgreSQL: the 202 Pledge and its pledge.created event,
// guests and their receipt token, who pays from which account, and every business rejection —
// each of which leaves no pledge and no event behind (invariants 1 and 5).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PledgeCreated } from "@careforall/events";
import { serviceHeaders } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { Value } from "@sinclair/typebox/value";
import { eq, sql } from "drizzle-orm";
import { outbox, pledgeHistory, pledges } from "../src/db/schema";
import { hashReceiptToken } from "../src/domain";
import type { PledgeModel } from "../src/model";
import { errorPaths, expectProblem, type PledgeTestApp, startPledgeTestApp, user } from "./support";

let h: PledgeTestApp;
let campaignId: string;

beforeAll(async () => {
  h = await startPledgeTestApp();
  campaignId = (await h.campaign()).id;
});
afterAll(async () => {
  await h.stop();
});

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function counts() {
  const [p] = await h.db.select({ n: sql<number>`count(*)::int` }).from(pledges);
  const [e] = await h.db.select({ n: sql<number>`count(*)::int` }).from(outbox);
  return { pledges: p!.n, events: e!.n };
}

function post(
  body: unknown,
  options: { as?: ReturnType<typeof user>; headers?: Record<string, string>; id?: string } = {},
) {
  return h.call("POST", `/campaigns/${options.id ?? campaignId}/pledges`, {
    ...(options.as ? { as: options.as } : {}),
    body,
    headers: { "idempotency-key": Bun.randomUUIDv7(), ...options.headers },
  });
}

function guestSource() {
  return h.bank.open(`acct_g_${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`, `s-${Math.random()}`);
}

describe("signed-in donors", () => {
  test("202 with the Pledge exactly as API.md: pending, one history entry, no receiptToken", async () => {
    const alice = h.withAccount(user("alice"));
    const before = h.commits();
    const res = await h.pledgeAs(alice, campaignId, { amountMinor: 12_345, message: "Keep going", anonymous: true });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const now = h.clock.date().toISOString();
    expect(await res.json()).toEqual({
      id: expect.stringMatching(UUIDV7),
      campaignId,
      donorId: alice.id,
      amountMinor: 12_345,
      currency: "BDT",
      status: "pending",
      anonymous: true,
      message: "Keep going",
      failureReason: null,
      createdAt: now,
      updatedAt: now,
      history: [{ status: "pending", at: now }],
    });
    expect(h.commits()).toBe(before + 1);
  });

  test("pays from their own account with an owner grant; pledge.created carries the grant, never a secret", async () => {
    const bob = h.withAccount(user("bob"));
    const pledge = await h.createPledge(bob, campaignId, { amountMinor: 4_200 });
    expect(h.bank.calls.at(-1)).toEqual({ accountId: bob.bankAccountId, ownerUserId: bob.id });
    const events = await h.eventsFor(pledge.id);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event.type).toBe("pledge.created");
    expect(Value.Check(PledgeCreated.schema, event.data)).toBe(true);
    expect(event.data).toEqual({
      pledgeId: pledge.id,
      campaignId,
      donorId: bob.id,
      amountMinor: 4_200,
      currency: "BDT",
      source: { bankAccountId: bob.bankAccountId, grant: expect.stringMatching(/^grant:/) },
      createdAt: pledge.createdAt,
    });
    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, pledge.id));
    expect(row).toMatchObject({
      donorKey: bob.id,
      donorName: "bob",
      guestEmail: null,
      sourceAccountId: bob.bankAccountId,
    });
    expect(row!.receiptTokenHash).toBeNull();
  });

  test("source naming another account pays from it with that account's secret", async () => {
    const carol = h.withAccount(user("carol"));
    const other = guestSource();
    const res = await post({ amountMinor: 1_000, currency: "BDT", source: other }, { as: carol });
    expect(res.status).toBe(202);
    expect(h.bank.calls.at(-1)).toEqual({ accountId: other.bankAccountId, accountSecret: other.accountSecret });
    const pledge = (await res.json()) as PledgeModel.CreatedPledge;
    expect(pledge.donorId).toBe(carol.id);
    expect(pledge.receiptToken).toBeUndefined();
  });

  test("x-donor-name is the donor's name; without it the token's name is used", async () => {
    const dan = h.withAccount(user("dan"));
    const named = await post(
      { amountMinor: 1_000, currency: "BDT" },
      { as: dan, headers: { "x-donor-bank-account": dan.bankAccountId, "x-donor-name": "Daniel R." } },
    );
    const unnamed = await post(
      { amountMinor: 1_000, currency: "BDT" },
      { as: dan, headers: { "x-donor-bank-account": dan.bankAccountId } },
    );
    const rows = await h.db.select().from(pledges).where(eq(pledges.donorId, dan.id));
    const names = new Map(rows.map((r) => [r.id, r.donorName]));
    expect(names.get(((await named.json()) as PledgeModel.Pledge).id)).toBe("Daniel R.");
    expect(names.get(((await unnamed.json()) as PledgeModel.Pledge).id)).toBe("dan");
  });

  test("a percent-encoded x-donor-name (non-Latin-1 names) is decoded", async () => {
    const rahim = h.withAccount(user("rahim"));
    const res = await post(
      { amountMinor: 1_000, currency: "BDT" },
      {
        as: rahim,
        headers: { "x-donor-bank-account": rahim.bankAccountId, "x-donor-name": encodeURIComponent("রহিম উদ্দিন") },
      },
    );
    expect(res.status).toBe(202);
    const [row] = await h.db.select().from(pledges).where(eq(pledges.donorId, rahim.id));
    expect(row!.donorName).toBe("রহিম উদ্দিন");
    const [event] = await h.eventsFor(((await res.json()) as PledgeModel.Pledge).id);
    expect(event!.type).toBe("pledge.created");
  });

  test("no own account linked and no source → 400 naming source, nothing stored", async () => {
    const before = await counts();
    const problem = await expectProblem(await post({ amountMinor: 1_000, currency: "BDT" }, { as: user("eve") }), 400);
    expect(errorPaths(problem)).toEqual(["source"]);
    expect(await counts()).toEqual(before);
  });

  test("an invalid bearer token → 401, never treated as a guest", async () => {
    await expectProblem(
      await h.call("POST", `/campaigns/${campaignId}/pledges`, {
        token: "not-a-jwt",
        body: {
          amountMinor: 1_000,
          currency: "BDT",
          donor: { email: "g@example.test", name: "G" },
          source: guestSource(),
        },
        headers: { "idempotency-key": "bad-token" },
      }),
      401,
    );
  });

  test("is typed end to end through an Eden client", async () => {
    const fay = h.withAccount(user("fay"));
    const api = treaty(h.app, { headers: await serviceHeaders("pledge") });
    const { data, status, response } = await api.campaigns({ id: campaignId }).pledges.post(
      { amountMinor: 2_000, currency: "BDT" },
      {
        headers: {
          "idempotency-key": "eden-1",
          "x-donor-bank-account": fay.bankAccountId,
          authorization: `Bearer ${await h.tokenFor(fay)}`,
        },
      },
    );
    expect(status).toBe(202);
    expect(data?.donorId).toBe(fay.id);
    expect(data?.history[0]?.status).toBe("pending");
    expect(response.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("guests", () => {
  test("donor and source are required (400 naming them), and nothing is stored", async () => {
    const before = await counts();
    const none = await expectProblem(await post({ amountMinor: 1_000, currency: "BDT" }), 400);
    expect(errorPaths(none).sort()).toEqual(["donor", "source"]);
    const noSource = await expectProblem(
      await post({ amountMinor: 1_000, currency: "BDT", donor: { email: "g@example.test", name: "G" } }),
      400,
    );
    expect(errorPaths(noSource)).toEqual(["source"]);
    const noDonor = await expectProblem(
      await post({ amountMinor: 1_000, currency: "BDT", source: guestSource() }),
      400,
    );
    expect(errorPaths(noDonor)).toEqual(["donor"]);
    expect(await counts()).toEqual(before);
  });

  test("202 with donorId null and a receiptToken shown once; only its hash is stored", async () => {
    const source = guestSource();
    const res = await post({
      amountMinor: 3_000,
      currency: "BDT",
      donor: { email: "Guest@Example.test", name: "A Guest" },
      source,
    });
    expect(res.status).toBe(202);
    const created = (await res.json()) as PledgeModel.CreatedPledge;
    expect(created.donorId).toBeNull();
    expect(created.receiptToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = created.receiptToken!;

    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, created.id));
    expect(row!.receiptTokenHash).toBe(hashReceiptToken(token));
    expect(row!.guestEmail).toBe("guest@example.test");
    expect(row!.donorKey).toMatch(/^guest:[0-9a-f]{64}$/);
    expect(h.bank.calls.at(-1)).toEqual({ accountId: source.bankAccountId, accountSecret: source.accountSecret });
    // Neither the token nor the account secret appears anywhere in the database.
    const dump = await h.client.unsafe(`
      select coalesce(string_agg(t::text, '|'), '') as all from (
        select p::text as t from pledge.pledges p union all select i::text from pledge.idempotency_keys i
        union all select o::text from pledge.outbox o union all select hh::text from pledge.pledge_history hh) x`);
    expect(dump[0]!.all).not.toContain(token);
    expect(dump[0]!.all).not.toContain(source.accountSecret);

    // The token reads the pledge; GET never shows it again.
    const read = await h.call("GET", `/pledges/${created.id}`, { headers: { "x-receipt-token": token } });
    expect(read.status).toBe(200);
    const { receiptToken: _shownOnce, ...pledge } = created;
    expect(await read.json()).toEqual(pledge);
  });

  test("a wrong or missing receipt token → 404, same as a pledge that does not exist", async () => {
    const created = (await (
      await post({
        amountMinor: 1_000,
        currency: "BDT",
        donor: { email: "x@example.test", name: "X" },
        source: guestSource(),
      })
    ).json()) as PledgeModel.CreatedPledge;
    const wrong = await expectProblem(
      await h.call("GET", `/pledges/${created.id}`, { headers: { "x-receipt-token": "A".repeat(43) } }),
      404,
    );
    const missing = await expectProblem(await h.call("GET", `/pledges/${created.id}`), 404);
    const ghostId = Bun.randomUUIDv7();
    const ghost = await expectProblem(await h.call("GET", `/pledges/${ghostId}`), 404);
    expect(wrong.title).toBe(ghost.title);
    expect(missing.detail).toBe(`Pledge ${created.id} does not exist`);
    // Another pledge's token does not open this one.
    const other = (await (
      await post({
        amountMinor: 1_000,
        currency: "BDT",
        donor: { email: "y@example.test", name: "Y" },
        source: guestSource(),
      })
    ).json()) as PledgeModel.CreatedPledge;
    await expectProblem(
      await h.call("GET", `/pledges/${created.id}`, { headers: { "x-receipt-token": other.receiptToken! } }),
      404,
    );
  });

  test("a guest's replay returns the receipt token again, byte for byte (sealed under the guest's own request)", async () => {
    const source = guestSource();
    const body = { amountMinor: 1_500, currency: "BDT", donor: { email: "r@example.test", name: "R" }, source };
    const headers = { "idempotency-key": "guest-replay" };
    const first = await h.call("POST", `/campaigns/${campaignId}/pledges`, { body, headers });
    const again = await h.call("POST", `/campaigns/${campaignId}/pledges`, { body, headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const text = await first.text();
    expect(await again.text()).toBe(text);
    expect(JSON.parse(text).receiptToken).toBeString();
  });
});

describe("rejections leave no pledge and no event", () => {
  test("a wrong account secret → 402", async () => {
    const source = guestSource();
    const before = await counts();
    const problem = await expectProblem(
      await post({
        amountMinor: 1_000,
        currency: "BDT",
        donor: { email: "w@example.test", name: "W" },
        source: { ...source, accountSecret: "not-it" },
      }),
      402,
    );
    expect(problem.title).toBe("Payment refused");
    expect(await counts()).toEqual(before);
  });

  test("an unknown account, or someone else's own account → 402", async () => {
    const gil = h.withAccount(user("gil"));
    const hal = user("hal");
    const before = await counts();
    // hal claims gil's account as his own: the bank refuses the owner grant.
    await expectProblem(
      await post(
        { amountMinor: 1_000, currency: "BDT" },
        { as: hal, headers: { "x-donor-bank-account": gil.bankAccountId } },
      ),
      402,
    );
    await expectProblem(
      await post(
        { amountMinor: 1_000, currency: "BDT", source: { bankAccountId: "acct_nobody", accountSecret: "x" } },
        { as: hal },
      ),
      402,
    );
    expect(await counts()).toEqual(before);
  });

  test("a closed campaign → 409 (the bank is not asked)", async () => {
    const closed = await h.campaign({ status: "closed" });
    const ida = h.withAccount(user("ida"));
    const calls = h.bank.calls.length;
    const before = await counts();
    const problem = await expectProblem(await h.pledgeAs(ida, closed.id), 409);
    expect(problem.type).toContain("campaign-closed");
    expect(h.bank.calls.length).toBe(calls);
    expect(await counts()).toEqual(before);
  });

  test("a currency other than the campaign's → 422", async () => {
    const usd = await h.campaign({ currency: "USD" });
    const jon = h.withAccount(user("jon"));
    const before = await counts();
    const problem = await expectProblem(await h.pledgeAs(jon, usd.id, { currency: "BDT" }), 422);
    expect(problem.type).toContain("currency-mismatch");
    expect(await counts()).toEqual(before);
    expect((await h.pledgeAs(jon, usd.id, { currency: "USD" })).status).toBe(202);
  });

  test("a source account in another currency → 422 before the 202, naming both; the same key answers it again", async () => {
    const usd = await h.campaign({ currency: "USD" });
    const dollars = h.bank.open(`acct_usd_${Bun.randomUUIDv7().slice(-12)}`, "usd-secret", undefined, "USD");
    const taka = h.bank.open(`acct_bdt_${Bun.randomUUIDv7().slice(-12)}`, "bdt-secret", undefined, "BDT");
    const before = await counts();
    const key = Bun.randomUUIDv7();
    const body = { amountMinor: 1_000, currency: "USD", donor: { email: "x@example.test", name: "এক্স" }, source: taka };
    const problem = await expectProblem(await post(body, { id: usd.id, headers: { "idempotency-key": key } }), 422);
    expect(problem.type).toContain("source-currency-mismatch");
    expect(problem.detail).toContain("holds BDT");
    expect(problem.detail).toContain("in USD");
    expect(await counts()).toEqual(before);
    const again = await post(body, { id: usd.id, headers: { "idempotency-key": key } });
    expect(again.status).toBe(422);
    // From an account in the campaign's currency it is accepted.
    expect((await post({ ...body, source: dollars }, { id: usd.id })).status).toBe(202);
  });

  test("an unknown campaign → 404", async () => {
    const kim = h.withAccount(user("kim"));
    const before = await counts();
    await expectProblem(await h.pledgeAs(kim, Bun.randomUUIDv7()), 404);
    expect(await counts()).toEqual(before);
  });

  test("a campaign that closes while the bank is answering → 409, stored, no pledge", async () => {
    const closing = await h.campaign();
    const lou = h.withAccount(user("lou"));
    const before = await counts();
    const original = h.bank.grant.bind(h.bank);
    h.bank.grant = async (input) => {
      await h.campaign({ ...closing, status: "closed", version: 2 });
      return original(input);
    };
    try {
      await expectProblem(await h.pledgeAs(lou, closing.id, {}, "lou-1"), 409);
    } finally {
      h.bank.grant = original;
    }
    expect(await counts()).toEqual(before);
    const replay = await h.pledgeAs(lou, closing.id, {}, "lou-1");
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
  });

  test("if the outbox write fails, neither the pledge nor the key's answer is kept", async () => {
    const max = h.withAccount(user("max"));
    const before = await counts();
    await h.client.unsafe("alter table pledge.outbox rename to outbox_unavailable");
    try {
      await expectProblem(await h.pledgeAs(max, campaignId, {}, "max-1"), 500);
    } finally {
      await h.client.unsafe("alter table pledge.outbox_unavailable rename to outbox");
    }
    expect(await counts()).toEqual(before);
    const [history] = await h.db.select({ n: sql<number>`count(*)::int` }).from(pledgeHistory);
    expect(history!.n).toBe(before.pledges);
    // The key was released, so the same request now succeeds.
    const retry = await h.pledgeAs(max, campaignId, {}, "max-1");
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("schema validation → 400 with errors[], nothing stored", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["amountMinor below 100", { amountMinor: 99 }, "amountMinor"],
    ["amountMinor above 100000000", { amountMinor: 100_000_001 }, "amountMinor"],
    ["amountMinor not an integer", { amountMinor: 100.5 }, "amountMinor"],
    ["amountMinor as a string", { amountMinor: "1000" }, "amountMinor"],
    ["an unknown currency", { currency: "GBP" }, "currency"],
    ["a message over 280 characters", { message: "x".repeat(281) }, "message"],
    ["anonymous not a boolean", { anonymous: "yes" }, "anonymous"],
    ["a source without a secret", { source: { bankAccountId: "acct_x" } }, "source.accountSecret"],
    ["a donor with a bad email", { donor: { email: "not-an-email", name: "N" } }, "donor.email"],
  ];
  test.each(cases)("%s", async (_, patch, path) => {
    const nia = h.withAccount(user("nia"));
    const before = await counts();
    const res = await h.pledgeAs(nia, campaignId, patch, `v-${path}`);
    const problem = await expectProblem(res, 400);
    expect(errorPaths(problem)).toContain(path);
    expect(await counts()).toEqual(before);
  });

  test("a 280-character message and an empty one are fine", async () => {
    const oz = h.withAccount(user("oz"));
    expect((await h.pledgeAs(oz, campaignId, { message: "x".repeat(280) })).status).toBe(202);
    expect((await h.pledgeAs(oz, campaignId, { message: "" })).status).toBe(202);
  });

  test("malformed JSON → 400; an invalid campaign id → 400", async () => {
    const pia = h.withAccount(user("pia"));
    await expectProblem(await post("{not json", { as: pia }), 400);
    await expectProblem(await post({ amountMinor: 1_000, currency: "BDT" }, { as: pia, id: "not-a-uuid" }), 400);
  });
});
