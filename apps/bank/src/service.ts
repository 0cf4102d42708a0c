// Bank use cases, free of HTTP. Every money operation is ONE transaction: the idempotency row is
// claimed first (ON CONFLICT DO NOTHING serialises same-key requests), conditional UPDATEs and
// CHECK constraints decide every race, and webhooks/outbox rows commit with the change.
import type { Clock } from "@careforall/config";
import { BankAccountOpened } from "@careforall/events";
import {
  AppError,
  conflict,
  cursorCodec,
  cursorValues,
  notFound,
  paymentRequired,
  unprocessable,
} from "@careforall/http";
import { enqueue, newEvent } from "@careforall/outbox";
import { and, desc, eq, gt, gte, lt, type SQL, sql } from "drizzle-orm";
import { type BankConfig, demoBankOn } from "./config";
import {
  type AccountRow,
  accounts,
  type CurrencyCode,
  entries,
  type HoldRow,
  holds,
  idempotency,
  outbox,
  transfers,
} from "./db/schema";
import {
  type AmountDecision,
  decideCapture,
  decideRefund,
  decideRelease,
  newAccountSecret,
  requestHash,
  secretMatches,
  signGrant,
  verifyGrant,
} from "./domain";
import {
  type BankDb,
  type BankTx,
  campaignAccount,
  enqueueWebhook,
  openAccount,
  postTransfer,
  refillTestAccount,
  TEST_ACCOUNTS,
  testAccountBalance,
  toBalance,
} from "./ledger";
import type { BankModel } from "./model";

export interface BankServiceDeps {
  db: BankDb;
  clock: Clock;
  config: Pick<
    BankConfig,
    | "GRANT_SECRET"
    | "GRANT_TTL_SECONDS"
    | "HOLD_TTL_SECONDS"
    | "DEMO_BALANCE_MINOR"
    | "SLOW_ACCOUNT_DELAY_MS"
    | "DEMO_BANK"
    | "NODE_ENV"
    | "TEST_ACCOUNT_REFILL_SECONDS"
  >;
  sleep: (ms: number) => Promise<unknown>;
  /** Called after a transaction that queued webhooks or outbox events has committed. */
  onCommitted?: (() => void) | undefined;
}

/** The result of an idempotent write: the body, and whether it is a stored earlier answer. */
export interface Idempotent<T> {
  body: T;
  replayed: boolean;
}

type Operation = "authorize" | "capture" | "release" | "refund";

const CHECK_VIOLATION = "23514";

function isCheckViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: unknown };
  if (e?.code === CHECK_VIOLATION) return true;
  return e?.cause !== undefined && e.cause !== err ? isCheckViolation(e.cause) : false;
}

export function toHold(row: HoldRow): BankModel.Hold {
  return {
    id: row.id,
    accountId: row.accountId,
    campaignId: row.campaignId,
    amountMinor: row.amountMinor,
    currency: row.currency,
    status: row.status,
    capturedMinor: row.capturedMinor,
    refundedMinor: row.refundedMinor,
    paymentRef: row.paymentRef,
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Transaction pages continue below the last entry id shown. */
const entryCursor = cursorCodec(
  "entries",
  (v: unknown): v is [number] => Array.isArray(v) && v.length === 1 && cursorValues.id(v[0]),
);

/** Maps a refused hold decision to the problem the caller sees. */
export function refusal(decision: Exclude<AmountDecision, { ok: true }>, holdId: string): AppError {
  switch (decision.reason) {
    case "not_held":
      return conflict(`Hold ${holdId} is not held`, "hold-not-held");
    case "not_captured":
      return conflict(`Hold ${holdId} is not captured`, "hold-not-captured");
    case "expired":
      return conflict(`Hold ${holdId} has expired`, "hold-expired");
    case "fully_refunded":
      return conflict(`Hold ${holdId} is already fully refunded`, "hold-fully-refunded");
    case "over_amount":
      return conflict(`The amount exceeds what hold ${holdId} allows`, "amount-exceeds-hold");
  }
}

/** POST /bank/accounts while the demo bank is off (DEMO_BANK). */
export const demoBankOff = () =>
  new AppError({
    status: 404,
    code: "demo-bank-off",
    title: "No demo bank here",
    detail: "This deployment offers no demo accounts and no test accounts (DEMO_BANK is off)",
  });

export function createBankService({ db, clock, config, sleep, onCommitted }: BankServiceDeps) {
  const demoBank = demoBankOn(config);
  /**
   * Runs `work` once per (operation, key). The first request inserts the idempotency row; a
   * concurrent one blocks on that insert until the first commits, then reads its stored answer.
   * An AppError thrown by `work` rolls everything back, the row included, so a retry re-decides.
   */
  async function idempotent<T>(
    operation: Operation,
    key: string,
    body: unknown,
    work: (tx: BankTx) => Promise<T>,
  ): Promise<Idempotent<T>> {
    const hash = requestHash(body);
    let result: Idempotent<T>;
    try {
      result = await db.transaction(async (tx) => {
        const claimed = await tx
          .insert(idempotency)
          .values({ key, operation, requestHash: hash, statusCode: 0, response: null, createdAt: clock.date() })
          .onConflictDoNothing()
          .returning({ key: idempotency.key });
        if (claimed.length === 0) {
          const [stored] = await tx
            .select()
            .from(idempotency)
            .where(and(eq(idempotency.key, key), eq(idempotency.operation, operation)));
          if (!stored) throw conflict(`Request with key ${key} is in flight; retry`, "idempotency-in-flight");
          if (stored.requestHash !== hash) {
            throw unprocessable(
              `Idempotency key ${key} was already used for a different ${operation} request`,
              "idempotency-key-reused",
            );
          }
          return { body: stored.response as T, replayed: true };
        }
        const response = await work(tx);
        await tx
          .update(idempotency)
          .set({ statusCode: 200, response })
          .where(and(eq(idempotency.key, key), eq(idempotency.operation, operation)));
        return { body: response, replayed: false };
      });
    } catch (err) {
      // Backstop for invariant 4: a transfer that would overdraw is refused by the database.
      if (isCheckViolation(err)) throw conflict("The account balance does not allow this", "insufficient-balance");
      throw err;
    }
    if (!result.replayed) onCommitted?.();
    return result;
  }

  async function explainHold(
    tx: BankTx,
    holdId: string,
    decide: (hold: HoldRow) => AmountDecision | { ok: true } | { ok: false; reason: "not_held" },
  ): Promise<AppError> {
    const [hold] = await tx.select().from(holds).where(eq(holds.id, holdId));
    if (!hold) return notFound(`Hold ${holdId} does not exist`);
    const decision = decide(hold);
    if (decision.ok) return conflict(`Hold ${holdId} changed concurrently; retry`, "hold-changed");
    return refusal(decision, holdId);
  }

  async function findAccount(id: string): Promise<AccountRow | undefined> {
    const [row] = await db.select().from(accounts).where(eq(accounts.id, id));
    return row;
  }

  async function openDemoAccount(currency: CurrencyCode = "BDT"): Promise<BankModel.OpenedAccount> {
    if (!demoBank) throw demoBankOff();
    const secret = newAccountSecret();
    const account = await db.transaction(async (tx) => {
      const { account } = await openAccount(tx, {
        ownerType: "demo",
        ownerId: null,
        currency,
        fundMinor: config.DEMO_BALANCE_MINOR,
        secret,
        now: clock.date(),
      });
      await enqueue(
        tx,
        outbox,
        newEvent(
          BankAccountOpened.type,
          account.id,
          { accountId: account.id, ownerType: "demo", ownerId: null, currency: account.currency },
          clock,
        ),
      );
      return account;
    });
    onCommitted?.();
    return {
      bankAccountId: account.id,
      accountSecret: secret,
      balanceMinor: account.balanceMinor,
      currency: account.currency,
    };
  }

  async function checkBalance(accountId: string): Promise<BankModel.Balance> {
    const account = await findAccount(accountId);
    if (!account) throw notFound(`Account ${accountId} does not exist`);
    return toBalance(account);
  }

  async function balanceByOwner(ownerType: AccountRow["ownerType"], ownerId: string): Promise<BankModel.Balance> {
    const [account] = await db
      .select()
      .from(accounts)
      .where(and(eq(accounts.ownerType, ownerType), eq(accounts.ownerId, ownerId)));
    if (!account) throw notFound(`No ${ownerType} account for ${ownerId}`);
    return toBalance(account);
  }

  /**
   * A grant for the account if the caller knows its secret or is its owning user; 402 otherwise.
   * Demo and test accounts pay only while the demo bank is on; a test account drawn down is
   * topped up here, at most once per TEST_ACCOUNT_REFILL_SECONDS (refillTestAccount).
   */
  async function grant(body: BankModel.GrantBody): Promise<BankModel.Grant> {
    const account = await findAccount(body.accountId);
    const demoOnly = account?.ownerType === "demo" || account?.ownerType === "test";
    const payable =
      account !== undefined &&
      account.ownerType !== "system" &&
      account.ownerType !== "campaign" &&
      (demoBank || !demoOnly);
    const bySecret =
      payable && body.accountSecret !== undefined && secretMatches(body.accountSecret, account.secretHash);
    const byOwner =
      payable && body.ownerUserId !== undefined && account.ownerType === "user" && account.ownerId === body.ownerUserId;
    if (!bySecret && !byOwner) throw paymentRequired("The bank account could not be verified");
    if (account?.ownerType === "test") {
      const now = clock.date();
      const balanceMinor = testAccountBalance(account.id, config.DEMO_BALANCE_MINOR);
      const periodMs = config.TEST_ACCOUNT_REFILL_SECONDS * 1000;
      await db.transaction((tx) => refillTestAccount(tx, { id: account.id, balanceMinor, periodMs, now }));
    }
    const expiresAt = Math.floor(clock.now() / 1000) + config.GRANT_TTL_SECONDS;
    return {
      grant: signGrant(config.GRANT_SECRET, body.accountId, expiresAt),
      expiresAt: new Date(expiresAt * 1000).toISOString(),
      // So a pledge in another currency is refused before it is accepted, not failed after.
      currency: account.currency as CurrencyCode,
    };
  }

  async function authorizeInTx(tx: BankTx, body: BankModel.AuthorizeBody): Promise<BankModel.AuthorizeResult> {
    const now = clock.date();
    const { amountMinor, currency, paymentRef } = body;
    const fail = async (reason: BankModel.FailureReason): Promise<BankModel.AuthorizeResult> => {
      await enqueueWebhook(tx, clock, "hold.failed", {
        holdId: null,
        paymentRef,
        amountMinor,
        currency,
        status: "failed",
        reason,
      });
      return { holdId: null, status: "failed", reason, amountMinor, currency, expiresAt: null };
    };

    const granted = verifyGrant(config.GRANT_SECRET, body.grant, now.getTime() / 1000);
    if (!granted || granted.accountId !== body.accountId) return fail("invalid_grant");
    const [account] = await tx.select().from(accounts).where(eq(accounts.id, body.accountId));
    if (!account || account.ownerType === "system" || account.ownerType === "campaign") return fail("invalid_grant");
    if (account.id === TEST_ACCOUNTS.declined) return fail("declined");
    if (account.id === TEST_ACCOUNTS.insufficient) return fail("insufficient_funds");
    if (account.currency !== currency) return fail("currency_mismatch");
    const { account: receiving } = await campaignAccount(tx, body.campaignId, currency, now);
    if (receiving.currency !== currency) return fail("currency_mismatch");

    // The conditional UPDATE decides concurrent holds on one account (row lock + re-check);
    // the CHECK constraint is the backstop.
    const [held] = await tx
      .update(accounts)
      .set({ heldMinor: sql`${accounts.heldMinor} + ${amountMinor}` })
      .where(and(eq(accounts.id, account.id), sql`${accounts.balanceMinor} - ${accounts.heldMinor} >= ${amountMinor}`))
      .returning({ id: accounts.id });
    if (!held) return fail("insufficient_funds");

    const holdId = Bun.randomUUIDv7();
    const expiresAt = new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000);
    await tx.insert(holds).values({
      id: holdId,
      idempotencyKey: body.idempotencyKey,
      accountId: account.id,
      campaignId: body.campaignId,
      toAccountId: receiving.id,
      amountMinor,
      currency,
      status: "held",
      paymentRef,
      expiresAt,
      createdAt: now,
      updatedAt: now,
    });
    await enqueueWebhook(tx, clock, "hold.authorized", {
      holdId,
      paymentRef,
      amountMinor,
      currency,
      status: "held",
      reason: null,
    });
    return { holdId, status: "held", reason: null, amountMinor, currency, expiresAt: expiresAt.toISOString() };
  }

  async function authorize(body: BankModel.AuthorizeBody): Promise<Idempotent<BankModel.AuthorizeResult>> {
    // The slow test account answers late but is otherwise normal; the wait is outside any transaction.
    if (body.accountId === TEST_ACCOUNTS.slow) await sleep(config.SLOW_ACCOUNT_DELAY_MS);
    return idempotent("authorize", body.idempotencyKey, body, (tx) => authorizeInTx(tx, body));
  }

  /** The stored answer of an authorize key: what the payment reconciler asks after an unknown outcome. */
  async function authorizeResultByKey(key: string): Promise<BankModel.AuthorizeResult> {
    const [stored] = await db
      .select()
      .from(idempotency)
      .where(and(eq(idempotency.key, key), eq(idempotency.operation, "authorize")));
    if (!stored) throw notFound(`The bank never saw authorize key ${key}`);
    return stored.response as BankModel.AuthorizeResult;
  }

  async function getHold(id: string): Promise<BankModel.Hold> {
    const [row] = await db.select().from(holds).where(eq(holds.id, id));
    if (!row) throw notFound(`Hold ${id} does not exist`);
    return toHold(row);
  }

  async function capture(body: BankModel.CaptureBody): Promise<Idempotent<BankModel.CaptureResult>> {
    return idempotent("capture", body.idempotencyKey, body, async (tx) => {
      const now = clock.date();
      const conditions: SQL[] = [eq(holds.id, body.holdId), eq(holds.status, "held"), gt(holds.expiresAt, now)];
      if (body.amountMinor !== undefined) conditions.push(gte(holds.amountMinor, body.amountMinor));
      const [hold] = await tx
        .update(holds)
        .set({ status: "captured", capturedMinor: body.amountMinor ?? sql`${holds.amountMinor}`, updatedAt: now })
        .where(and(...conditions))
        .returning();
      if (!hold) throw await explainHold(tx, body.holdId, (h) => decideCapture(h, body.amountMinor, now));
      // A partial capture settles the whole hold: the captured part moves, the rest is released.
      const transferId = await postTransfer(tx, {
        kind: "capture",
        holdId: hold.id,
        debitAccountId: hold.accountId,
        creditAccountId: hold.toAccountId,
        amountMinor: hold.capturedMinor,
        releaseHeldMinor: hold.amountMinor,
        now,
      });
      await enqueueWebhook(tx, clock, "hold.captured", {
        holdId: hold.id,
        paymentRef: hold.paymentRef,
        amountMinor: hold.capturedMinor,
        currency: hold.currency,
        status: "captured",
        reason: null,
      });
      return { holdId: hold.id, transferId, capturedMinor: hold.capturedMinor, status: "captured" as const };
    });
  }

  async function release(body: BankModel.ReleaseBody): Promise<Idempotent<BankModel.ReleaseResult>> {
    return idempotent("release", body.idempotencyKey, body, async (tx) => {
      const now = clock.date();
      const [hold] = await tx
        .update(holds)
        .set({ status: "released", updatedAt: now })
        .where(and(eq(holds.id, body.holdId), eq(holds.status, "held")))
        .returning();
      if (!hold) throw await explainHold(tx, body.holdId, decideRelease);
      await tx
        .update(accounts)
        .set({ heldMinor: sql`${accounts.heldMinor} - ${hold.amountMinor}` })
        .where(eq(accounts.id, hold.accountId));
      await enqueueWebhook(tx, clock, "hold.released", {
        holdId: hold.id,
        paymentRef: hold.paymentRef,
        amountMinor: hold.amountMinor,
        currency: hold.currency,
        status: "released",
        reason: null,
      });
      return { holdId: hold.id, status: "released" as const };
    });
  }

  async function refund(body: BankModel.RefundBody): Promise<Idempotent<BankModel.RefundResult>> {
    return idempotent("refund", body.idempotencyKey, body, async (tx) => {
      const now = clock.date();
      // "The rest" is read first, then claimed by a conditional UPDATE; a concurrent refund makes
      // the condition fail and we decide again on fresh data (bounded retries).
      for (let attempt = 0; attempt < 3; attempt++) {
        const [current] = await tx.select().from(holds).where(eq(holds.id, body.holdId));
        if (!current) throw notFound(`Hold ${body.holdId} does not exist`);
        const decision = decideRefund(current, body.amountMinor);
        if (!decision.ok) throw refusal(decision, body.holdId);
        const amount = decision.amountMinor;
        const [hold] = await tx
          .update(holds)
          .set({ refundedMinor: sql`${holds.refundedMinor} + ${amount}`, updatedAt: now })
          .where(
            and(
              eq(holds.id, body.holdId),
              eq(holds.status, "captured"),
              sql`${holds.refundedMinor} + ${amount} <= ${holds.capturedMinor}`,
            ),
          )
          .returning();
        if (!hold) continue;
        const transferId = await postTransfer(tx, {
          kind: "refund",
          holdId: hold.id,
          debitAccountId: hold.toAccountId,
          creditAccountId: hold.accountId,
          amountMinor: amount,
          now,
        });
        return { holdId: hold.id, transferId, refundedMinor: hold.refundedMinor };
      }
      throw conflict(`Hold ${body.holdId} changed concurrently; retry`, "hold-changed");
    });
  }

  /** The account's entries, newest first, keyset-paged by entry id. */
  async function transactions(
    accountId: string,
    query: BankModel.TransactionsQuery,
  ): Promise<BankModel.TransactionPage> {
    const account = await findAccount(accountId);
    if (!account) throw notFound(`Account ${accountId} does not exist`);
    const limit = query.limit ?? 20;
    const after = entryCursor.decode(query.cursor);
    const rows = await db
      .select({
        id: entries.id,
        transferId: entries.transferId,
        kind: transfers.kind,
        amountMinor: entries.amountMinor,
        balanceAfterMinor: entries.balanceAfterMinor,
        holdId: transfers.holdId,
        at: entries.createdAt,
      })
      .from(entries)
      .innerJoin(transfers, eq(transfers.id, entries.transferId))
      .where(and(eq(entries.accountId, accountId), after ? lt(entries.id, after[0]) : undefined))
      .orderBy(desc(entries.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({
        entryId: String(r.id),
        transferId: r.transferId,
        kind: r.kind,
        amountMinor: r.amountMinor,
        balanceAfterMinor: r.balanceAfterMinor,
        holdId: r.holdId,
        at: r.at.toISOString(),
      })),
      nextCursor: rows.length > limit && last ? entryCursor.encode([last.id]) : null,
    };
  }

  return {
    openDemoAccount,
    checkBalance,
    balanceByOwner,
    grant,
    authorize,
    authorizeResultByKey,
    getHold,
    capture,
    release,
    refund,
    transactions,
  };
}

export type BankService = ReturnType<typeof createBankService>;
