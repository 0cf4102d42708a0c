// The money path end to end through the real gateway → pledge → payment → bank → campaign
// processes: a signed-in donor's pledge from their own account and a guest's from a demo account
// reach `captured`, move the campaign's totals and the donor's balance by exactly the amount;
// receipts, refusals (wrong secret, declined, insufficient funds, currency, closed, unknown,
// bad input), Idempotency-Key rules under concurrency, cancel and refund, the lists, and a clean
// money audit at the end. Tests share one stack and run in order.
import { beforeAll, describe, expect, test } from "bun:test";
import {
  accepted,
  adminToken,
  allPledges,
  bankBalance,
  type CreatedPledge,
  DECLINED,
  donor,
  INSUFFICIENT,
  idemKey,
  type MyBank,
  moneyEnv,
  myBank,
  type Page,
  type Pledge,
  pledge,
  readPledge,
  SLOW,
  statuses,
  totals,
  waitCleanAudit,
  waitForPayment,
  waitForPledgeView,
  waitForStatus,
  waitForTotals,
  waitSettled,
} from "./money";
import {
  type Account,
  type Campaign,
  call,
  createCampaign,
  expectProblem,
  type Reply,
  register,
  uniqueEmail,
  useStack,
} from "./support";

// STUCK_AFTER_SECONDS short enough that the final audit would see a pledge left open by any test.
const e2e = useStack(moneyEnv({ STUCK_AFTER_SECONDS: "20" }), { label: "gw_money_pledges" });

type Donor = Account & { bank: MyBank };
let admin: string;
let owner: Account;
let alice: Donor;
let bob: Donor;
/** Alice's own pledges, in creation order (for the /api/me/pledges check). */
const alicePledges: string[] = [];
let main: Campaign;
let other: Campaign;
let usd: Campaign;
let closed: Campaign;
let quiet: Campaign;

beforeAll(async () => {
  admin = await adminToken(e2e.gw);
  owner = await register(e2e.gw, { name: "Olive Owner" });
  [alice, bob] = await Promise.all([donor(e2e.gw, "Alice Donor"), donor(e2e.gw, "Bob Donor")]);
  [main, other, usd, closed, quiet] = await Promise.all([
    createCampaign(e2e.gw, owner.token, { title: "Flood relief (main)" }),
    createCampaign(e2e.gw, owner.token, { title: "Winter clothes (other)" }),
    createCampaign(e2e.gw, owner.token, { title: "Dollar drive", currency: "USD" }),
    createCampaign(e2e.gw, owner.token, { title: "Already over" }),
    createCampaign(e2e.gw, owner.token, { title: "Nobody pays here" }),
  ]);
  const close = await call(e2e.gw, "POST", `/api/campaigns/${closed.id}/close`, undefined, { token: owner.token });
  expect(close.status).toBe(200);
  await Promise.all([
    waitForPledgeView(e2e.gw, main.id, "EUR", 422),
    waitForPledgeView(e2e.gw, other.id, "EUR", 422),
    waitForPledgeView(e2e.gw, usd.id, "EUR", 422),
    waitForPledgeView(e2e.gw, quiet.id, "EUR", 422),
    waitForPledgeView(e2e.gw, closed.id, "EUR", 409),
  ]);
}, 30_000);

/** Alice's pledge on a campaign (tracked for the list check). */
async function alicePledge(campaignId: string, body: Parameters<typeof accepted>[2], key?: string) {
  const created = await accepted(e2e.gw, campaignId, body, { token: alice.token, ...(key ? { key } : {}) });
  alicePledges.push(created.id);
  return created;
}

describe("a signed-in donor pays from their own account", () => {
  const amount = 12_345;
  let created: CreatedPledge;
  let captured: Pledge;

  test("202 with the pending pledge", async () => {
    const reply = await pledge(
      e2e.gw,
      main.id,
      { amountMinor: amount, currency: "BDT", anonymous: true, message: "For the boats" },
      { token: alice.token },
    );
    expect(reply.status).toBe(202);
    expect(reply.res.headers.get("idempotent-replayed")).toBeNull();
    created = reply.body;
    expect(reply.res.headers.get("location")).toBe(`/api/pledges/${created.id}`);
    alicePledges.push(created.id);
    expect(created).toMatchObject({
      campaignId: main.id,
      donorId: alice.session.user.id,
      amountMinor: amount,
      currency: "BDT",
      status: "pending",
      anonymous: true,
      message: "For the boats",
      failureReason: null,
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(statuses(created)).toEqual(["pending"]);
    expect(created.receiptToken).toBeUndefined();
  });

  test("it reaches captured, with history pending → authorized → captured", async () => {
    captured = await waitForStatus(e2e.gw, created.id, "captured", { token: alice.token });
    expect(statuses(captured)).toEqual(["pending", "authorized", "captured"]);
    expect(captured.failureReason).toBeNull();
    const at = captured.history.map((h) => Date.parse(h.at));
    expect(at).toEqual([...at].sort((a, b) => a - b));
  });

  test("the campaign's totals move by exactly this pledge", async () => {
    await waitForTotals(e2e.gw, main.id, { raisedMinor: amount, donorCount: 1, pledgeCount: 1 });
  });

  test("the donation is listed on the campaign, anonymously (donorName null)", async () => {
    const reply = await call<Page<Record<string, unknown>>>(e2e.gw, "GET", `/api/campaigns/${main.id}/donations`);
    expect(reply.status).toBe(200);
    expect(reply.body.items).toHaveLength(1);
    expect(reply.body.items[0]).toMatchObject({
      id: created.id,
      amountMinor: amount,
      currency: "BDT",
      donorName: null,
      message: "For the boats",
    });
    expect(Date.parse(String(reply.body.items[0]?.capturedAt))).not.toBeNaN();
    expect(reply.body.nextCursor).toBeNull();
  });

  test("the donor's balance went down by exactly the amount, nothing left on hold", async () => {
    const after = await myBank(e2e.gw, alice.token);
    expect(after).toEqual({
      bankAccountId: alice.bank.bankAccountId,
      balanceMinor: alice.bank.balanceMinor - amount,
      availableMinor: alice.bank.balanceMinor - amount,
      heldMinor: 0,
      currency: "BDT",
    });
    alice.bank = after;
  });

  test("paying from a demo account named in source leaves the donor's own account alone", async () => {
    const demo = (
      await call<{ bankAccountId: string; accountSecret: string }>(e2e.gw, "POST", "/api/bank/demo-accounts")
    ).body;
    const p = await alicePledge(main.id, { amountMinor: 700, currency: "BDT", source: demo });
    await waitForStatus(e2e.gw, p.id, "captured", { token: alice.token });
    expect((await bankBalance(e2e, demo.bankAccountId)).balanceMinor).toBe(1_000_000 - 700);
    expect(await myBank(e2e.gw, alice.token)).toEqual(alice.bank);
  });
});

describe("a donor named in Bengali", () => {
  test("202, captured, and listed on the campaign under their name as written", async () => {
    const rahim = await donor(e2e.gw, "রহিম উদ্দিন");
    const named = await createCampaign(e2e.gw, owner.token, { title: "নলকূপ — tube wells" });
    await waitForPledgeView(e2e.gw, named.id, "EUR", 422);
    const reply = await pledge(e2e.gw, named.id, { amountMinor: 2_000, currency: "BDT" }, { token: rahim.token });
    expect(reply.status).toBe(202);
    await waitForStatus(e2e.gw, reply.body.id, "captured", { token: rahim.token });
    // The campaign learns of the capture through the bus: its totals move in the same transaction
    // that lists the donation.
    await waitForTotals(e2e.gw, named.id, { raisedMinor: 2_000, donorCount: 1, pledgeCount: 1 });
    const list = await call<Page<Record<string, unknown>>>(e2e.gw, "GET", `/api/campaigns/${named.id}/donations`);
    expect(list.body.items.map((d) => d.donorName)).toEqual(["রহিম উদ্দিন"]);
  });
});

describe("a guest pays from a demo account", () => {
  let demo: { bankAccountId: string; accountSecret: string; balanceMinor: number; currency: string };
  let created: CreatedPledge;
  const amount = 5_000;

  test("POST /api/bank/demo-accounts → 201 with a secret and the demo balance", async () => {
    const reply = await call<typeof demo>(e2e.gw, "POST", "/api/bank/demo-accounts");
    expect(reply.status).toBe(201);
    demo = reply.body;
    expect(demo.bankAccountId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(typeof demo.accountSecret).toBe("string");
    expect(demo.accountSecret.length).toBeGreaterThan(0);
    expect(demo).toMatchObject({ balanceMinor: 1_000_000, currency: "BDT" });
  });

  test("202 with a receiptToken and no donor id", async () => {
    const reply = await pledge(e2e.gw, main.id, {
      amountMinor: amount,
      currency: "BDT",
      message: "From a friend",
      donor: { email: uniqueEmail("guest"), name: "Gita Guest" },
      source: { bankAccountId: demo.bankAccountId, accountSecret: demo.accountSecret },
    });
    expect(reply.status).toBe(202);
    created = reply.body;
    expect(created).toMatchObject({ campaignId: main.id, donorId: null, status: "pending", amountMinor: amount });
    expect(typeof created.receiptToken).toBe("string");
    expect(created.receiptToken!.length).toBeGreaterThan(10);
  });

  test("X-Receipt-Token reads it (and it gets captured)", async () => {
    const p = await waitForStatus(e2e.gw, created.id, "captured", { receiptToken: created.receiptToken });
    expect(p).toMatchObject({ id: created.id, donorId: null, amountMinor: amount });
    expect(statuses(p)).toEqual(["pending", "authorized", "captured"]);
  });

  test("a wrong token, no credentials, or another donor → 404; an admin → 200", async () => {
    expectProblem(await readPledge(e2e.gw, created.id, { receiptToken: `${created.receiptToken}x` }), 404);
    expectProblem(await readPledge(e2e.gw, created.id, { receiptToken: "not-the-token" }), 404);
    expectProblem(await readPledge(e2e.gw, created.id), 404);
    expectProblem(await readPledge(e2e.gw, created.id, { token: bob.token }), 404);
    const asAdmin = await readPledge(e2e.gw, created.id, { token: admin });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.id).toBe(created.id);
  });

  test("the demo account paid exactly the amount; the donation shows the guest's name", async () => {
    expect(await bankBalance(e2e, demo.bankAccountId)).toMatchObject({
      balanceMinor: 1_000_000 - amount,
      heldMinor: 0,
    });
    await waitForTotals(e2e.gw, main.id, { raisedMinor: 12_345 + 700 + amount, donorCount: 2, pledgeCount: 3 });
    const list = await call<Page<{ id: string; donorName: string | null }>>(
      e2e.gw,
      "GET",
      `/api/campaigns/${main.id}/donations?limit=1`,
    );
    expect(list.body.items).toEqual([expect.objectContaining({ id: created.id, donorName: "Gita Guest" })]);
    expect(list.body.nextCursor).not.toBeNull();
  });
});

describe("a campaign in dollars", () => {
  test("a USD demo account pays it; a BDT account is refused before the 202, naming both currencies", async () => {
    const dollars = await call<{
      bankAccountId: string;
      accountSecret: string;
      currency: string;
      balanceMinor: number;
    }>(e2e.gw, "POST", "/api/bank/demo-accounts", { currency: "USD" });
    expect(dollars.status).toBe(201);
    expect(dollars.body).toMatchObject({ currency: "USD", balanceMinor: 1_000_000 });
    const taka = (
      await call<{ bankAccountId: string; accountSecret: string; currency: string }>(
        e2e.gw,
        "POST",
        "/api/bank/demo-accounts",
      )
    ).body;
    expect(taka.currency).toBe("BDT");
    const guest = { email: uniqueEmail("dollar"), name: "Dollar Guest" };
    const source = (a: { bankAccountId: string; accountSecret: string }) => ({
      bankAccountId: a.bankAccountId,
      accountSecret: a.accountSecret,
    });

    const refused = await pledge(e2e.gw, usd.id, {
      amountMinor: 500,
      currency: "USD",
      donor: guest,
      source: source(taka),
    });
    expect(refused.status).toBe(422);
    expect(String((refused.body as unknown as { detail: string }).detail)).toMatch(/holds BDT.*in USD/);

    const paid = await accepted(e2e.gw, usd.id, {
      amountMinor: 500,
      currency: "USD",
      donor: guest,
      source: source(dollars.body),
    });
    const done = await waitForStatus(e2e.gw, paid.id, "captured", { receiptToken: paid.receiptToken });
    expect(done.currency).toBe("USD");
    expect((await bankBalance(e2e, dollars.body.bankAccountId)).balanceMinor).toBe(1_000_000 - 500);
  });
});

describe("refusals", () => {
  test("a wrong accountSecret → 402: no pledge, no charge, and the same request again answers the same 402", async () => {
    const demo = (
      await call<{ bankAccountId: string; accountSecret: string }>(e2e.gw, "POST", "/api/bank/demo-accounts")
    ).body;
    const before = await bankBalance(e2e, demo.bankAccountId);
    const key = idemKey("wrong-secret");
    const body = {
      amountMinor: 2_000,
      currency: "BDT",
      donor: { email: uniqueEmail("wrong"), name: "Wrong Secret" },
      source: { bankAccountId: demo.bankAccountId, accountSecret: `${demo.accountSecret}-nope` },
    };
    const first = await pledge(e2e.gw, quiet.id, body, { key });
    expectProblem(first, 402);
    // A signed-in donor naming someone else's account without its secret is refused the same way.
    const bobBefore = await myBank(e2e.gw, bob.token);
    expectProblem(
      await pledge(
        e2e.gw,
        quiet.id,
        {
          amountMinor: 2_000,
          currency: "BDT",
          source: { bankAccountId: bob.bank.bankAccountId, accountSecret: "guess" },
        },
        { token: alice.token },
      ),
      402,
    );

    const replay = await pledge(e2e.gw, quiet.id, body, { key });
    expectProblem(replay, 402);
    expect(replay.text).toBe(first.text);
    expect(replay.res.headers.get("idempotent-replayed")).toBe("true");

    expect((await allPledges(e2e.gw, admin)).filter((p) => p.campaignId === quiet.id)).toEqual([]);
    expect(await bankBalance(e2e, demo.bankAccountId)).toEqual(before);
    expect(await myBank(e2e.gw, bob.token)).toEqual(bobBefore);
    expect(await totals(e2e.gw, quiet.id)).toEqual({ raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
  });

  test("acct_test_declined → accepted, then failed with a failureReason", async () => {
    const p = await alicePledge(other.id, { amountMinor: 1_500, currency: "BDT", source: DECLINED });
    const failed = await waitForStatus(e2e.gw, p.id, "failed", { token: alice.token });
    expect(failed.failureReason).toMatch(/declin/);
    expect(statuses(failed)).toEqual(["pending", "failed"]);
  });

  test("acct_test_insufficient → accepted, then failed with a failureReason", async () => {
    const p = await alicePledge(other.id, { amountMinor: 1_500, currency: "BDT", source: INSUFFICIENT });
    const failed = await waitForStatus(e2e.gw, p.id, "failed", { token: alice.token });
    expect(failed.failureReason).toMatch(/insufficient/);
    expect(statuses(failed)).toEqual(["pending", "failed"]);
  });

  test("more than the donor's balance → failed (insufficient funds), balance untouched", async () => {
    const before = await myBank(e2e.gw, alice.token);
    const p = await alicePledge(other.id, { amountMinor: before.availableMinor + 1, currency: "BDT" });
    const failed = await waitForStatus(e2e.gw, p.id, "failed", { token: alice.token });
    expect(failed.failureReason).toMatch(/insufficient/);
    expect(await myBank(e2e.gw, alice.token)).toEqual(before);
  });

  test("currency mismatch (USD campaign, BDT pledge) → 422", async () => {
    const problem = expectProblem(
      await pledge(e2e.gw, usd.id, { amountMinor: 1_000, currency: "BDT" }, { token: alice.token }),
      422,
    );
    expect(problem.detail).toContain("USD");
  });

  test("a closed campaign → 409, for donors and guests", async () => {
    expectProblem(
      await pledge(e2e.gw, closed.id, { amountMinor: 1_000, currency: "BDT" }, { token: alice.token }),
      409,
    );
    expectProblem(
      await pledge(e2e.gw, closed.id, {
        amountMinor: 1_000,
        currency: "BDT",
        donor: { email: uniqueEmail("late"), name: "Late Guest" },
        source: DECLINED,
      }),
      409,
    );
  });

  test("an unknown campaign → 404", async () => {
    expectProblem(
      await pledge(e2e.gw, Bun.randomUUIDv7(), { amountMinor: 1_000, currency: "BDT" }, { token: alice.token }),
      404,
    );
  });

  test("no Idempotency-Key → 400", async () => {
    expectProblem(
      await pledge(e2e.gw, main.id, { amountMinor: 1_000, currency: "BDT" }, { token: alice.token, key: null }),
      400,
    );
  });

  test("an Idempotency-Key of 256 characters → 400; 255 is accepted", async () => {
    const body = { amountMinor: 1_000, currency: "BDT", source: DECLINED };
    expectProblem(await pledge(e2e.gw, other.id, body, { token: alice.token, key: "k".repeat(256) }), 400);
    await alicePledge(other.id, body, "k".repeat(255));
  });

  test("a guest without donor or source → 400 naming what is missing", async () => {
    const base = { amountMinor: 1_000, currency: "BDT" };
    const donorOnly = { ...base, donor: { email: uniqueEmail("g"), name: "G" } };
    const sourceOnly = { ...base, source: DECLINED };
    for (const [body, paths] of [
      [base, ["donor", "source"]],
      [donorOnly, ["source"]],
      [sourceOnly, ["donor"]],
    ] as const) {
      const problem = expectProblem(await pledge(e2e.gw, main.id, body), 400);
      expect(problem.errors?.map((e) => e.path).sort()).toEqual([...paths]);
    }
  });

  test('amountMinor 99, 100000001 and "500" → 400 naming amountMinor; 100 and 100000000 are accepted', async () => {
    for (const amountMinor of [99, 100_000_001, "500", 100.5, -100]) {
      const problem = expectProblem(
        await pledge(e2e.gw, other.id, { amountMinor, currency: "BDT", source: DECLINED }, { token: alice.token }),
        400,
      );
      expect(problem.errors?.map((e) => e.path)).toContain("amountMinor");
    }
    await alicePledge(other.id, { amountMinor: 100, currency: "BDT", source: DECLINED });
    await alicePledge(other.id, { amountMinor: 100_000_000, currency: "BDT", source: DECLINED });
  });
});

describe("Idempotency-Key", () => {
  const amount = 4_321;
  let carol: Donor;
  let key: string;
  let original: { status: number; text: string; body: CreatedPledge };

  beforeAll(async () => {
    carol = await donor(e2e.gw, "Carol Concurrent");
  });

  test("50 concurrent creates with one key and body → one pledge; the rest replay it or get 409", async () => {
    key = idemKey("burst");
    const body = { amountMinor: amount, currency: "BDT", message: "burst" };
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => pledge(e2e.gw, other.id, body, { token: carol.token, key })),
    );
    const byStatus = new Map<number, number>();
    for (const r of replies) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    expect([...byStatus.keys()].filter((s) => s !== 202 && s !== 409)).toEqual([]);
    const ok = replies.filter((r) => r.status === 202);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    const fresh = ok.filter((r) => r.res.headers.get("idempotent-replayed") !== "true");
    expect(fresh).toHaveLength(1);
    for (const r of ok) expect(r.body).toEqual(fresh[0]!.body);
    for (const r of replies.filter((x) => x.status === 409)) expectProblem(r, 409);
    original = { status: 202, text: fresh[0]!.text, body: fresh[0]!.body };
  });

  test("after capture the donor was charged exactly once, and there is exactly one pledge", async () => {
    await waitForStatus(e2e.gw, original.body.id, "captured", { token: carol.token });
    expect(await myBank(e2e.gw, carol.token)).toMatchObject({
      balanceMinor: carol.bank.balanceMinor - amount,
      heldMinor: 0,
    });
    const carols = (await allPledges(e2e.gw, admin)).filter((p) => p.donorId === carol.session.user.id);
    expect(carols.map((p) => p.id)).toEqual([original.body.id]);
    const mine = await call<Page<Pledge>>(e2e.gw, "GET", "/api/me/pledges", undefined, { token: carol.token });
    expect(mine.body.items.map((p) => p.id)).toEqual([original.body.id]);
    // The bank's own ledger for the account: the opening credit and one debit.
    const tx = await call<Page<{ amountMinor: number }>>(
      e2e.stack.urls.bank,
      "GET",
      `/bank/accounts/${carol.bank.bankAccountId}/transactions?limit=100`,
    );
    expect(tx.status).toBe(200);
    expect(tx.body.items.filter((t) => t.amountMinor < 0).map((t) => t.amountMinor)).toEqual([-amount]);
  });

  test("a replay after completion → the same status and the very same body, Idempotent-Replayed: true", async () => {
    const replay = await pledge(
      e2e.gw,
      other.id,
      { amountMinor: amount, currency: "BDT", message: "burst" },
      { token: carol.token, key },
    );
    expect(replay.status).toBe(original.status);
    expect(replay.res.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.text).toBe(original.text);
    // Still one charge.
    expect((await myBank(e2e.gw, carol.token)).balanceMinor).toBe(carol.bank.balanceMinor - amount);
  });

  test("the same key with a different amount → 422", async () => {
    expectProblem(
      await pledge(
        e2e.gw,
        other.id,
        { amountMinor: amount + 1, currency: "BDT", message: "burst" },
        { token: carol.token, key },
      ),
      422,
    );
  });

  test("the same key used by two different donors → two different pledges", async () => {
    const shared = idemKey("shared");
    const body = { amountMinor: 1_111, currency: "BDT" };
    const [a, b] = await Promise.all([
      pledge(e2e.gw, other.id, body, { token: alice.token, key: shared }),
      pledge(e2e.gw, other.id, body, { token: bob.token, key: shared }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    alicePledges.push(a.body.id);
    expect(a.body.id).not.toBe(b.body.id);
    expect([a.body.donorId, b.body.donorId]).toEqual([alice.session.user.id, bob.session.user.id]);
    expect([a.res.headers.get("idempotent-replayed"), b.res.headers.get("idempotent-replayed")]).toEqual([null, null]);
  });

  test("guests' keys are scoped by donor.email: another email is another pledge, the same one (any case) a replay", async () => {
    const shared = idemKey("guest");
    const email = uniqueEmail("scoped");
    const body = (mail: string) => ({
      amountMinor: 1_000,
      currency: "BDT",
      donor: { email: mail, name: "Scoped Guest" },
      source: DECLINED,
    });
    const first = await pledge(e2e.gw, other.id, body(email), { key: shared });
    const otherGuest = await pledge(e2e.gw, other.id, body(uniqueEmail("scoped")), { key: shared });
    const again = await pledge(e2e.gw, other.id, body(email.toUpperCase()), { key: shared });
    expect([first.status, otherGuest.status, again.status]).toEqual([202, 202, 202]);
    expect(otherGuest.body.id).not.toBe(first.body.id);
    expect(again.body.id).toBe(first.body.id);
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.receiptToken).toBe(first.body.receiptToken);
  });

  test("a 400 stores nothing: the corrected request with the same key → 202, not a replay", async () => {
    const reused = idemKey("fixed");
    expectProblem(
      await pledge(e2e.gw, other.id, { amountMinor: 99, currency: "BDT" }, { token: alice.token, key: reused }),
      400,
    );
    const fixed = await pledge(
      e2e.gw,
      other.id,
      { amountMinor: 999, currency: "BDT" },
      { token: alice.token, key: reused },
    );
    expect(fixed.status).toBe(202);
    expect(fixed.res.headers.get("idempotent-replayed")).toBeNull();
    alicePledges.push(fixed.body.id);
  });
});

describe("cancel", () => {
  let campaign: Campaign;

  beforeAll(async () => {
    campaign = await createCampaign(e2e.gw, owner.token, { title: "Cancel me" });
    await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
  });

  test("a donor cancels their own pending pledge → 200 cancelled; it is never captured and nothing is charged", async () => {
    const slowBefore = await bankBalance(e2e, SLOW.bankAccountId);
    // acct_test_slow answers the bank's authorize after 3 s: the pledge is still pending.
    const p = await alicePledge(campaign.id, { amountMinor: 2_500, currency: "BDT", source: SLOW });

    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${p.id}/cancel`, undefined, { token: bob.token }), 404);
    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${p.id}/cancel`), 401);

    const reply = await call<Pledge>(e2e.gw, "POST", `/api/pledges/${p.id}/cancel`, undefined, { token: alice.token });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id: p.id, status: "cancelled" });
    expect(statuses(reply.body)).toEqual(["pending", "cancelled"]);

    // Let the payment finish whatever the bank was doing: the hold is released, never kept.
    const payment = await waitForPayment(e2e, p.id, ["released", "refunded", "failed", "expired"]);
    expect(payment.cancelRequested).toBe(true);
    const after = await readPledge(e2e.gw, p.id, { token: alice.token });
    expect(after.body.status).toBe("cancelled");
    expect(statuses(after.body)).toEqual(["pending", "cancelled"]);
    expect(await bankBalance(e2e, SLOW.bankAccountId)).toEqual(slowBefore);
    expect(await totals(e2e.gw, campaign.id)).toEqual({ raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
    const donations = await call<Page<unknown>>(e2e.gw, "GET", `/api/campaigns/${campaign.id}/donations`);
    expect(donations.body.items).toEqual([]);

    // Cancelling twice is a conflict, not a second transition.
    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${p.id}/cancel`, undefined, { token: alice.token }), 409);
  }, 20_000);

  test("cancelling a captured pledge → 409", async () => {
    const [first] = await allPledges(e2e.gw, admin, "captured").then((all) =>
      all.filter((p) => p.donorId === alice.session.user.id),
    );
    expect(first).toBeDefined();
    expectProblem(
      await call(e2e.gw, "POST", `/api/pledges/${first!.id}/cancel`, undefined, { token: alice.token }),
      409,
    );
    expect((await readPledge(e2e.gw, first!.id, { token: alice.token })).body.status).toBe("captured");
  });

  test("cancelling an unknown pledge → 404", async () => {
    expectProblem(
      await call(e2e.gw, "POST", `/api/pledges/${Bun.randomUUIDv7()}/cancel`, undefined, { token: alice.token }),
      404,
    );
  });
});

describe("refund", () => {
  let rita: Donor;
  let campaign: Campaign;
  let captured: Pledge;
  const amount = 8_000;

  beforeAll(async () => {
    [rita, campaign] = await Promise.all([
      donor(e2e.gw, "Rita Refund"),
      createCampaign(e2e.gw, owner.token, { title: "Refund me" }),
    ]);
    await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
    const p = await accepted(e2e.gw, campaign.id, { amountMinor: amount, currency: "BDT" }, { token: rita.token });
    captured = await waitForStatus(e2e.gw, p.id, "captured", { token: rita.token });
    await waitForTotals(e2e.gw, campaign.id, { raisedMinor: amount, donorCount: 1, pledgeCount: 1 });
  });

  test("the donor may not refund → 403; no token → 401", async () => {
    expectProblem(
      await call(e2e.gw, "POST", `/api/pledges/${captured.id}/refund`, undefined, { token: rita.token }),
      403,
    );
    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${captured.id}/refund`), 401);
  });

  test("an admin refunds a captured pledge → 202, then refunded; totals and balance are restored", async () => {
    expect((await myBank(e2e.gw, rita.token)).balanceMinor).toBe(rita.bank.balanceMinor - amount);
    const reply = await call<Pledge>(e2e.gw, "POST", `/api/pledges/${captured.id}/refund`, undefined, { token: admin });
    expect(reply.status).toBe(202);
    expect(reply.body.id).toBe(captured.id);
    const refunded = await waitForStatus(e2e.gw, captured.id, "refunded", { token: rita.token });
    expect(statuses(refunded)).toEqual(["pending", "authorized", "captured", "refunded"]);
    await waitForTotals(e2e.gw, campaign.id, { raisedMinor: 0, donorCount: 0, pledgeCount: 0 });
    expect(await myBank(e2e.gw, rita.token)).toEqual(rita.bank);
  });

  test("refunding again, a failed pledge or an unknown one → 409 / 409 / 404", async () => {
    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${captured.id}/refund`, undefined, { token: admin }), 409);
    const [failed] = await allPledges(e2e.gw, admin, "failed");
    expect(failed).toBeDefined();
    expectProblem(await call(e2e.gw, "POST", `/api/pledges/${failed!.id}/refund`, undefined, { token: admin }), 409);
    expectProblem(
      await call(e2e.gw, "POST", `/api/pledges/${Bun.randomUUIDv7()}/refund`, undefined, { token: admin }),
      404,
    );
  });
});

describe("lists", () => {
  test("GET /api/me/pledges: only the donor's own pledges, newest first, cursor paging visits each once", async () => {
    const seen: Pledge[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const reply: Reply<Page<Pledge>> = await call<Page<Pledge>>(e2e.gw, "GET", `/api/me/pledges${qs}`, undefined, {
        token: alice.token,
      });
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...reply.body.items);
      cursor = reply.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen.every((p) => p.donorId === alice.session.user.id)).toBe(true);
    expect(seen.map((p) => p.id)).toEqual([...alicePledges].sort().reverse());
    expect(pages).toBe(Math.ceil(alicePledges.length / 2));

    const bobs = await call<Page<Pledge>>(e2e.gw, "GET", "/api/me/pledges?limit=100", undefined, { token: bob.token });
    expect(bobs.body.items.length).toBeGreaterThan(0);
    expect(bobs.body.items.every((p) => p.donorId === bob.session.user.id)).toBe(true);
    expectProblem(await call(e2e.gw, "GET", "/api/me/pledges"), 401);
  });

  test("GET /api/admin/pledges?status=captured: admin only, and only captured pledges", async () => {
    const captured = await allPledges(e2e.gw, admin, "captured");
    expect(captured.length).toBeGreaterThanOrEqual(4);
    expect(captured.every((p) => p.status === "captured")).toBe(true);
    expectProblem(
      await call(e2e.gw, "GET", "/api/admin/pledges?status=captured", undefined, { token: alice.token }),
      403,
    );
    expectProblem(await call(e2e.gw, "GET", "/api/admin/pledges?status=captured"), 401);
    expectProblem(await call(e2e.gw, "GET", "/api/admin/pledges?status=lost", undefined, { token: admin }), 400);
  });
});

describe("audit", () => {
  test("once everything settled: no drift anywhere, nothing stuck, and the main campaign adds up", async () => {
    await waitSettled(e2e.gw, admin);
    const report = await waitCleanAudit(e2e.gw, admin);
    expect(Date.parse(report.checkedAt)).not.toBeNaN();
    const line = report.campaigns.find((c) => c.campaignId === main.id);
    const expected = 12_345 + 700 + 5_000;
    expect(line).toEqual({
      campaignId: main.id,
      raisedMinor: expected,
      capturedMinusRefundedMinor: expected,
      bankBalanceMinor: expected,
      driftMinor: 0,
    });
    expect(await bankBalance(e2e, SLOW.bankAccountId)).toMatchObject({ heldMinor: 0 });
  }, 45_000);
});
