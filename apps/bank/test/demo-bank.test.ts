// The demo bank's limits (issue 8): demo accounts and the fixed test accounts exist only while
// DEMO_BANK is on (default: everywhere but production), and a fixed test account holds a demo
// account's balance, topped up at most once per TEST_ACCOUNT_REFILL_SECONDS, so anyone paying from
// it can pour no more than that into campaigns.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "@careforall/config";
import { and, eq } from "drizzle-orm";
import { BankConfigSchema, demoBankOn } from "../src/config";
import { accounts, transfers } from "../src/db/schema";
import { ensureFixedAccounts, openAccount, postTransfer, systemAccountId, TEST_ACCOUNTS } from "../src/ledger";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, expectProblem, startBankTestApp } from "./support";

describe("DEMO_BANK", () => {
  test("unset: on in development and test, off in production; set: as it says", () => {
    expect(demoBankOn({ NODE_ENV: "development" })).toBe(true);
    expect(demoBankOn({ NODE_ENV: "test" })).toBe(true);
    expect(demoBankOn({ NODE_ENV: "production" })).toBe(false);
    expect(demoBankOn({ NODE_ENV: "production", DEMO_BANK: "on" })).toBe(true);
    expect(demoBankOn({ NODE_ENV: "development", DEMO_BANK: "off" })).toBe(false);
    // From the environment: "on" or "off", nothing else.
    const parse = (DEMO_BANK: string) =>
      parseConfig("bank", BankConfigSchema, { NODE_ENV: "test", JWT_PUBLIC_KEY: "k".repeat(40), DEMO_BANK });
    expect(demoBankOn(parse("off"))).toBe(false);
    expect(demoBankOn(parse("on"))).toBe(true);
    expect(() => parse("yes")).toThrow(/DEMO_BANK/);
  });

  describe("off", () => {
    let h: BankTestApp;
    beforeAll(async () => {
      h = await startBankTestApp({ env: { DEMO_BANK: "off" } });
    });
    afterAll(() => h.stop());

    test("POST /bank/accounts → 404 demo-bank-off, and no account is opened", async () => {
      const before = await h.db.select().from(accounts).where(eq(accounts.ownerType, "demo"));
      const problem = await expectProblem(await h.call("POST", "/bank/accounts", {}), 404);
      expect(problem.type).toEndWith("/demo-bank-off");
      expect(problem.detail).toContain("DEMO_BANK");
      const after = await h.db.select().from(accounts).where(eq(accounts.ownerType, "demo"));
      expect(after.length).toBe(before.length);
    });

    test("the fixed test accounts are not created; ensuring them again still creates none", async () => {
      await ensureFixedAccounts(h.db, h.clock, { demoBalanceMinor: h.config.DEMO_BALANCE_MINOR, demoBank: false });
      for (const id of Object.values(TEST_ACCOUNTS)) {
        expect(await h.account(id)).toBeUndefined();
        await expectProblem(await h.call("POST", "/bank/grants", { accountId: id, accountSecret: "test" }), 402);
      }
      // The system accounts are ensured all the same: users' accounts are funded from them.
      expect(await h.account(systemAccountId("BDT"))).toBeDefined();
    });

    test("demo and test accounts left from before draw nothing; a user's account still does", async () => {
      const now = h.clock.date();
      const opened = await h.db.transaction(async (tx) => ({
        demo: await openAccount(tx, {
          ownerType: "demo",
          ownerId: null,
          currency: "BDT",
          fundMinor: 5000,
          secret: "old-demo-secret",
          now,
        }),
        test: await openAccount(tx, {
          id: TEST_ACCOUNTS.slow,
          ownerType: "test",
          ownerId: null,
          currency: "BDT",
          fundMinor: 5000,
          secret: "test",
          now,
        }),
        user: await openAccount(tx, {
          ownerType: "user",
          ownerId: "user-demo-off",
          currency: "BDT",
          fundMinor: 5000,
          now,
        }),
      }));
      await expectProblem(
        await h.call("POST", "/bank/grants", { accountId: opened.demo.account.id, accountSecret: "old-demo-secret" }),
        402,
      );
      await expectProblem(
        await h.call("POST", "/bank/grants", { accountId: TEST_ACCOUNTS.slow, accountSecret: "test" }),
        402,
      );
      const res = await h.call("POST", "/bank/grants", {
        accountId: opened.user.account.id,
        ownerUserId: "user-demo-off",
      });
      expect(res.status).toBe(201);
    });
  });
});

describe("fixed test accounts", () => {
  let h: BankTestApp;
  const PERIOD_SECONDS = 600;
  beforeAll(async () => {
    h = await startBankTestApp({ env: { TEST_ACCOUNT_REFILL_SECONDS: String(PERIOD_SECONDS) } });
  });
  afterAll(() => h.stop());

  const balanceOf = async (id: string) => (await h.account(id))!.balanceMinor;
  const fundings = (id: string) =>
    h.db
      .select()
      .from(transfers)
      .where(and(eq(transfers.kind, "funding"), eq(transfers.creditAccountId, id)));

  /** Moves `amountMinor` from acct_test_slow into a campaign: authorize, then capture. */
  async function spendFromSlow(amountMinor: number, campaignId = "campaign-refill") {
    const grant = await h.grantFor(TEST_ACCOUNTS.slow);
    const body = authorizeBody({ accountId: TEST_ACCOUNTS.slow, grant, amountMinor, campaignId });
    const held = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
    expect(held.status).toBe("held");
    await h.json("POST", "/bank/capture", { idempotencyKey: `${body.idempotencyKey}:capture`, holdId: held.holdId });
  }

  test("hold a demo account's balance (insufficient: nothing), not a fortune", async () => {
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(h.config.DEMO_BALANCE_MINOR);
    expect(await balanceOf(TEST_ACCOUNTS.declined)).toBe(h.config.DEMO_BALANCE_MINOR);
    expect(await balanceOf(TEST_ACCOUNTS.insufficient)).toBe(0);
  });

  test("a drawn-down account is topped up to the ordinary balance at most once per period", async () => {
    const balance = h.config.DEMO_BALANCE_MINOR;
    await spendFromSlow(balance - 1_000);
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(1_000);
    // Within the period (counted from its opening funding): no top-up, however often it is asked.
    await spendFromSlow(1_000);
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(0);
    const grant = await h.grantFor(TEST_ACCOUNTS.slow);
    const refused = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: TEST_ACCOUNTS.slow, grant, amountMinor: 100 }),
    );
    expect(refused).toMatchObject({ status: "failed", reason: "insufficient_funds" });

    // A period later the next grant tops it up to exactly the ordinary balance — once, even when
    // several grants race for it.
    h.clock.advance(PERIOD_SECONDS * 1000);
    const before = (await fundings(TEST_ACCOUNTS.slow)).length;
    await Promise.all(Array.from({ length: 8 }, () => h.grantFor(TEST_ACCOUNTS.slow)));
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(balance);
    expect((await fundings(TEST_ACCOUNTS.slow)).length).toBe(before + 1);

    // Drawn again at once: the top-up waits for the next period.
    await spendFromSlow(5_000);
    h.clock.advance(PERIOD_SECONDS * 1000 - 1);
    await h.grantFor(TEST_ACCOUNTS.slow);
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(balance - 5_000);
    h.clock.advance(1);
    await h.grantFor(TEST_ACCOUNTS.slow);
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(balance);
    await h.expectLedgerBalanced();
  });

  test("what one account can pour into campaigns in a period: its balance and one top-up, no more", async () => {
    const campaign = "campaign-bounded";
    const balance = h.config.DEMO_BALANCE_MINOR;
    h.clock.advance(PERIOD_SECONDS * 1000);
    // Try to move ten balances within one period, in halves.
    let moved = 0;
    for (let i = 0; i < 20; i++) {
      const grant = await h.grantFor(TEST_ACCOUNTS.slow);
      const body = authorizeBody({
        accountId: TEST_ACCOUNTS.slow,
        grant,
        amountMinor: balance / 2,
        campaignId: campaign,
      });
      const held = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
      if (held.status !== "held") continue;
      await h.json("POST", "/bank/capture", { idempotencyKey: `${body.idempotencyKey}:capture`, holdId: held.holdId });
      moved += balance / 2;
    }
    // Here: half a balance, then the one top-up (to a full balance) and that too; then nothing.
    expect(moved).toBe(1.5 * balance);
    expect(moved).toBeLessThanOrEqual(2 * balance);
    const received = await h.json<BankModel.Balance>("GET", `/bank/accounts/by-owner/campaign/${campaign}`);
    expect(received.balanceMinor).toBe(moved);
    expect(await balanceOf(TEST_ACCOUNTS.slow)).toBe(0);
  });

  test("an account holding more (a database from before) gives the excess back when ensured", async () => {
    const now = h.clock.date();
    await h.db.transaction((tx) =>
      postTransfer(tx, {
        kind: "funding",
        holdId: null,
        debitAccountId: systemAccountId("BDT"),
        creditAccountId: TEST_ACCOUNTS.declined,
        amountMinor: 1_000_000_000_000,
        now,
      }),
    );
    await ensureFixedAccounts(h.db, h.clock, { demoBalanceMinor: h.config.DEMO_BALANCE_MINOR });
    expect(await balanceOf(TEST_ACCOUNTS.declined)).toBe(h.config.DEMO_BALANCE_MINOR);
    await h.expectLedgerBalanced();
  });
});
