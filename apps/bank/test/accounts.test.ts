// Accounts, grants and the fixed test accounts over HTTP: demo accounts are funded through the
// ledger, a grant needs the secret or the owning user, a forged or foreign grant cannot draw, and
// the test accounts always answer the same way.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signGrant } from "../src/domain";
import { openAccount, TEST_ACCOUNTS } from "../src/ledger";
import type { BankModel } from "../src/model";
import { authorizeBody, type BankTestApp, expectProblem, startBankTestApp } from "./support";

let h: BankTestApp;

beforeAll(async () => {
  h = await startBankTestApp();
});
afterAll(async () => {
  await h.expectLedgerBalanced();
  await h.stop();
});

async function userAccount(userId: string) {
  const { account } = await h.db.transaction((tx) =>
    openAccount(tx, { ownerType: "user", ownerId: userId, currency: "BDT", fundMinor: 10_000, now: h.clock.date() }),
  );
  return account;
}

describe("demo accounts", () => {
  test("POST /bank/accounts opens a funded BDT account whose secret is shown once", async () => {
    const res = await h.call("POST", "/bank/accounts", {});
    expect(res.status).toBe(201);
    const opened = (await res.json()) as BankModel.OpenedAccount;
    expect(opened).toEqual({
      bankAccountId: expect.stringMatching(/^acct_[0-9a-f]{32}$/),
      accountSecret: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
      balanceMinor: 1_000_000,
      currency: "BDT",
    });
    const balance = await h.json<BankModel.Balance>("POST", "/bank/check-balance", { accountId: opened.bankAccountId });
    expect(balance).toEqual({
      bankAccountId: opened.bankAccountId,
      balanceMinor: 1_000_000,
      heldMinor: 0,
      availableMinor: 1_000_000,
      currency: "BDT",
    });
    // Only a hash is stored.
    expect((await h.account(opened.bankAccountId))!.secretHash).not.toContain(opened.accountSecret);
    const second = await h.openDemo();
    expect(second.bankAccountId).not.toBe(opened.bankAccountId);
    expect(second.accountSecret).not.toBe(opened.accountSecret);
  });

  test("an empty body is accepted too", async () => {
    expect((await h.call("POST", "/bank/accounts")).status).toBe(201);
  });

  test("the opening balance is a funding transfer, visible in the account's transactions", async () => {
    const opened = await h.openDemo();
    const page = await h.json<BankModel.TransactionPage>("GET", `/bank/accounts/${opened.bankAccountId}/transactions`);
    expect(page.items).toEqual([
      {
        entryId: expect.any(String),
        transferId: expect.any(String),
        kind: "funding",
        amountMinor: 1_000_000,
        balanceAfterMinor: 1_000_000,
        holdId: null,
        at: expect.any(String),
      },
    ]);
    expect(page.nextCursor).toBeNull();
  });

  test("unknown accounts → 404", async () => {
    await expectProblem(await h.call("POST", "/bank/check-balance", { accountId: "acct_nope" }), 404);
    await expectProblem(await h.call("GET", "/bank/accounts/acct_nope/transactions"), 404);
    await expectProblem(await h.call("GET", "/bank/accounts/by-owner/user/nobody"), 404);
  });
});

describe("grants", () => {
  test("the right secret → 201 grant with its expiry", async () => {
    const opened = await h.openDemo();
    const res = await h.call("POST", "/bank/grants", {
      accountId: opened.bankAccountId,
      accountSecret: opened.accountSecret,
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as BankModel.Grant;
    expect(body.grant.startsWith(`${opened.bankAccountId}.`)).toBe(true);
    expect(new Date(body.expiresAt).getTime()).toBe(
      Math.floor(h.clock.now() / 1000) * 1000 + h.config.GRANT_TTL_SECONDS * 1000,
    );
  });

  test("a wrong secret, no credential, or an unknown account → 402", async () => {
    const opened = await h.openDemo();
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: opened.bankAccountId, accountSecret: "wrong" }),
      402,
    );
    await expectProblem(await h.call("POST", "/bank/grants", { accountId: opened.bankAccountId }), 402);
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: "acct_unknown", accountSecret: "test" }),
      402,
    );
  });

  test("a user's account: its owner gets a grant, anyone else 402; a demo account has no owner", async () => {
    const account = await userAccount("user-owner-1");
    expect((await h.call("POST", "/bank/grants", { accountId: account.id, ownerUserId: "user-owner-1" })).status).toBe(
      201,
    );
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: account.id, ownerUserId: "user-other" }),
      402,
    );
    const demo = await h.openDemo();
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: demo.bankAccountId, ownerUserId: "user-owner-1" }),
      402,
    );
    const balance = await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/user/user-owner-1");
    expect(balance).toMatchObject({ bankAccountId: account.id, balanceMinor: 10_000, availableMinor: 10_000 });
  });

  test("campaign and system accounts can never be drawn on", async () => {
    await h.json(
      "POST",
      "/bank/authorize",
      authorizeBody({
        accountId: TEST_ACCOUNTS.slow,
        grant: await h.grantFor(TEST_ACCOUNTS.slow),
        campaignId: "c-grant",
      }),
    );
    const campaign = await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/campaign/c-grant");
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: campaign.bankAccountId, ownerUserId: "c-grant" }),
      402,
    );
    await expectProblem(await h.call("POST", "/bank/grants", { accountId: "acct_system_bdt", accountSecret: "" }), 400);
    await expectProblem(
      await h.call("POST", "/bank/grants", { accountId: "acct_system_bdt", accountSecret: "x" }),
      402,
    );
    // Even a correctly signed grant for the campaign account is refused at authorize.
    const forged = signGrant(h.config.GRANT_SECRET, campaign.bankAccountId, Math.floor(h.clock.now() / 1000) + 60);
    const result = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: campaign.bankAccountId, grant: forged }),
    );
    expect(result).toMatchObject({ status: "failed", reason: "invalid_grant" });
  });

  test("authorize with a tampered, foreign, expired or garbage grant → failed invalid_grant", async () => {
    const victim = await h.accountWith(5000);
    const attacker = await h.accountWith(5000);
    const [acct, exp, mac] = victim.grant.split(".") as [string, string, string];
    const tamperedMac = `${acct}.${exp}.${mac.slice(0, -1)}${mac.endsWith("0") ? "1" : "0"}`;
    const extended = `${acct}.${Number(exp) + 86_400}.${mac}`;
    const wrongKey = signGrant("another-secret-of-enough-length", victim.accountId, Number(exp));
    const expired = signGrant(h.config.GRANT_SECRET, victim.accountId, Math.floor(h.clock.now() / 1000) - 1);
    for (const grant of [tamperedMac, extended, wrongKey, expired, attacker.grant, "garbage", "a.b.c"]) {
      const result = await h.json<BankModel.AuthorizeResult>(
        "POST",
        "/bank/authorize",
        authorizeBody({ accountId: victim.accountId, grant }),
      );
      expect(result).toEqual({
        holdId: null,
        status: "failed",
        reason: "invalid_grant",
        amountMinor: 1000,
        currency: "BDT",
        expiresAt: null,
      });
    }
    expect((await h.account(victim.accountId))!.heldMinor).toBe(0);
    // The genuine grant still works.
    const ok = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: victim.accountId, grant: victim.grant }),
    );
    expect(ok.status).toBe("held");
  });
});

describe("test accounts", () => {
  test('exist with secret "test": declined and slow hold a demo balance, insufficient is empty', async () => {
    const declined = await h.json<BankModel.Balance>("POST", "/bank/check-balance", {
      accountId: TEST_ACCOUNTS.declined,
    });
    expect(declined.balanceMinor).toBe(h.config.DEMO_BALANCE_MINOR);
    const insufficient = await h.json<BankModel.Balance>("POST", "/bank/check-balance", {
      accountId: TEST_ACCOUNTS.insufficient,
    });
    expect(insufficient.balanceMinor).toBe(0);
    const slow = await h.json<BankModel.Balance>("POST", "/bank/check-balance", { accountId: TEST_ACCOUNTS.slow });
    expect(slow.balanceMinor).toBeLessThanOrEqual(h.config.DEMO_BALANCE_MINOR);
    expect(slow.balanceMinor).toBeGreaterThan(0);
    for (const id of Object.values(TEST_ACCOUNTS)) {
      expect((await h.call("POST", "/bank/grants", { accountId: id, accountSecret: "test" })).status).toBe(201);
    }
  });

  test("acct_test_declined → failed declined, whatever the amount", async () => {
    const grant = await h.grantFor(TEST_ACCOUNTS.declined);
    for (const amountMinor of [1, 100]) {
      const result = await h.json<BankModel.AuthorizeResult>(
        "POST",
        "/bank/authorize",
        authorizeBody({ accountId: TEST_ACCOUNTS.declined, grant, amountMinor }),
      );
      expect(result).toMatchObject({ status: "failed", reason: "declined", holdId: null });
    }
  });

  test("acct_test_insufficient → failed insufficient_funds", async () => {
    const grant = await h.grantFor(TEST_ACCOUNTS.insufficient);
    const result = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: TEST_ACCOUNTS.insufficient, grant, amountMinor: 1 }),
    );
    expect(result).toMatchObject({ status: "failed", reason: "insufficient_funds" });
  });

  test("acct_test_slow answers after SLOW_ACCOUNT_DELAY_MS, otherwise normally", async () => {
    const grant = await h.grantFor(TEST_ACCOUNTS.slow);
    const before = h.sleeps.length;
    const started = performance.now();
    const result = await h.json<BankModel.AuthorizeResult>(
      "POST",
      "/bank/authorize",
      authorizeBody({ accountId: TEST_ACCOUNTS.slow, grant, amountMinor: 5000 }),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(h.config.SLOW_ACCOUNT_DELAY_MS - 5);
    expect(h.sleeps.slice(before)).toEqual([h.config.SLOW_ACCOUNT_DELAY_MS]);
    expect(result).toMatchObject({ status: "held", reason: null });
    const captured = await h.json<BankModel.CaptureResult>("POST", "/bank/capture", {
      idempotencyKey: "slow-capture",
      holdId: result.holdId,
    });
    expect(captured.capturedMinor).toBe(5000);
  });
});

describe("transactions", () => {
  test("newest first with running balances, signed amounts, hold ids; cursor paging covers every entry once", async () => {
    const a = await h.accountWith(10_000);
    const keys: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const body = authorizeBody({ accountId: a.accountId, grant: a.grant, amountMinor: i * 100, campaignId: "c-tx" });
      keys.push(body.idempotencyKey);
      const held = await h.json<BankModel.AuthorizeResult>("POST", "/bank/authorize", body);
      await h.json("POST", "/bank/capture", { idempotencyKey: `${body.idempotencyKey}:c`, holdId: held.holdId });
      if (i === 4)
        await h.json("POST", "/bank/refund", {
          idempotencyKey: `${body.idempotencyKey}:r`,
          holdId: held.holdId,
          amountMinor: 150,
        });
    }
    const seen: BankModel.Transaction[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/bank/accounts/${a.accountId}/transactions?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page: BankModel.TransactionPage = await h.json<BankModel.TransactionPage>("GET", path);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((e) => [e.kind, e.amountMinor, e.balanceAfterMinor])).toEqual([
      ["refund", 150, 9150],
      ["capture", -400, 9000],
      ["capture", -300, 9400],
      ["capture", -200, 9700],
      ["capture", -100, 9900],
      ["funding", 10_000, 10_000],
    ]);
    expect(seen.filter((e) => e.kind !== "funding").every((e) => typeof e.holdId === "string")).toBe(true);
    expect(new Set(seen.map((e) => e.entryId)).size).toBe(6);
    const campaign = await h.json<BankModel.Balance>("GET", "/bank/accounts/by-owner/campaign/c-tx");
    expect(campaign.balanceMinor).toBe(850);
    await expectProblem(await h.call("GET", `/bank/accounts/${a.accountId}/transactions?limit=0`), 400);
  });
});
