import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BankAccountOpenedEvent } from "@careforall/events";
import { newEvent } from "@careforall/outbox";
import { linkBankAccount } from "../src/workers/bank-accounts";
import { type Harness, startAuth } from "./support";

describe("bank account link (bank.account_opened)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAuth();
  });
  afterAll(() => h.close());

  const opened = (ownerId: string, accountId: string, ownerType: "user" | "campaign" = "user") =>
    newEvent("bank.account_opened", accountId, {
      accountId,
      ownerType,
      ownerId,
      currency: "BDT",
    }) as BankAccountOpenedEvent;

  test("a user's new account shows up as bankAccountId on /me, once, even when redelivered", async () => {
    const { session } = await h.register();
    expect(session.user.bankAccountId).toBeNull();
    const event = opened(session.user.id, "acct_1");
    const results = await Promise.all([1, 2, 3].map(() => linkBankAccount(h.db.db, event)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const me = await (await h.get("/me", session.accessToken)).json();
    expect(me.bankAccountId).toBe("acct_1");
  });

  test("a second account event never replaces the first link; campaign accounts are ignored", async () => {
    const { session } = await h.register();
    await linkBankAccount(h.db.db, opened(session.user.id, "acct_first"));
    expect(await linkBankAccount(h.db.db, opened(session.user.id, "acct_second"))).toBe(false);
    expect(await linkBankAccount(h.db.db, opened(session.user.id, "acct_campaign", "campaign"))).toBe(false);
    const me = await (await h.get("/me", session.accessToken)).json();
    expect(me.bankAccountId).toBe("acct_first");
  });
});
