// Ledger primitives every use case shares, each joining the caller's transaction: opening
// (and funding) accounts, posting a two-entry transfer, and queueing a signed webhook.
// Invariant 4: each transfer's entries sum to 0 and every balance is the sum of its entries.
import type { Clock } from "@careforall/config";
import type { Database, Executor } from "@careforall/db";
import { injectTraceHeaders } from "@careforall/telemetry";
import { and, eq, max, sql } from "drizzle-orm";
import {
  type AccountRow,
  accounts,
  type BankDbSchema,
  type CurrencyCode,
  entries,
  type OwnerType,
  type TransferKind,
  transfers,
  webhookDeliveries,
} from "./db/schema";
import { hashSecret, newAccountId } from "./domain";

export type BankDb = Database<BankDbSchema>;
export type BankTx = Executor<BankDbSchema>;

/** Fixed accounts with outcomes that never change (secret "test"). */
export const TEST_ACCOUNTS = {
  declined: "acct_test_declined",
  insufficient: "acct_test_insufficient",
  slow: "acct_test_slow",
} as const;
export const TEST_ACCOUNT_SECRET = "test";

/** The per-currency funding account: opening balances come from it through real transfers. */
export const systemAccountId = (currency: CurrencyCode) => `acct_system_${currency.toLowerCase()}`;

export async function ensureSystemAccount(tx: BankTx, currency: CurrencyCode, now: Date): Promise<string> {
  const id = systemAccountId(currency);
  await tx
    .insert(accounts)
    .values({ id, ownerType: "system", ownerId: `funding:${currency}`, currency, createdAt: now })
    .onConflictDoNothing();
  return id;
}

export interface PostTransfer {
  kind: TransferKind;
  holdId: string | null;
  debitAccountId: string;
  creditAccountId: string;
  amountMinor: number;
  /** Held amount released from the debited account in the same update (a capture settles its hold). */
  releaseHeldMinor?: number;
  now: Date;
}

/**
 * One transfer, two entries (debit negative, credit positive). Accounts are updated in id order
 * so two transfers touching the same pair can never deadlock; the CHECK constraints refuse any
 * update that would overdraw a non-system account.
 */
export async function postTransfer(tx: BankTx, t: PostTransfer): Promise<string> {
  const transferId = Bun.randomUUIDv7();
  await tx.insert(transfers).values({
    id: transferId,
    kind: t.kind,
    holdId: t.holdId,
    debitAccountId: t.debitAccountId,
    creditAccountId: t.creditAccountId,
    amountMinor: t.amountMinor,
    createdAt: t.now,
  });
  const legs = [
    { accountId: t.debitAccountId, delta: -t.amountMinor, heldDelta: -(t.releaseHeldMinor ?? 0) },
    { accountId: t.creditAccountId, delta: t.amountMinor, heldDelta: 0 },
  ].sort((a, b) => (a.accountId < b.accountId ? -1 : 1));
  const balanceAfter = new Map<string, number>();
  for (const leg of legs) {
    const [row] = await tx
      .update(accounts)
      .set({
        balanceMinor: sql`${accounts.balanceMinor} + ${leg.delta}`,
        ...(leg.heldDelta !== 0 ? { heldMinor: sql`${accounts.heldMinor} + ${leg.heldDelta}` } : {}),
      })
      .where(eq(accounts.id, leg.accountId))
      .returning({ balanceMinor: accounts.balanceMinor });
    if (!row) throw new Error(`postTransfer: account ${leg.accountId} does not exist`);
    balanceAfter.set(leg.accountId, row.balanceMinor);
  }
  await tx.insert(entries).values(
    legs.map((leg) => ({
      transferId,
      accountId: leg.accountId,
      amountMinor: leg.delta,
      balanceAfterMinor: balanceAfter.get(leg.accountId)!,
      createdAt: t.now,
    })),
  );
  return transferId;
}

export interface OpenAccount {
  ownerType: Exclude<OwnerType, "system">;
  ownerId: string | null;
  currency: CurrencyCode;
  /** Opening balance, moved from the currency's system account by a funding transfer. */
  fundMinor: number;
  secret?: string;
  /** A fixed id (test accounts); otherwise a new `acct_…`. */
  id?: string;
  now: Date;
}

/**
 * Opens an account once: an owner (or fixed id) that already has one gets the existing row back
 * with `created: false` and no second funding. The unique index decides concurrent opens.
 */
export async function openAccount(tx: BankTx, o: OpenAccount): Promise<{ account: AccountRow; created: boolean }> {
  const [inserted] = await tx
    .insert(accounts)
    .values({
      id: o.id ?? newAccountId(),
      ownerType: o.ownerType,
      ownerId: o.ownerId,
      currency: o.currency,
      secretHash: o.secret === undefined ? null : hashSecret(o.secret),
      createdAt: o.now,
    })
    .onConflictDoNothing()
    .returning();
  if (!inserted) {
    const [existing] = o.id
      ? await tx.select().from(accounts).where(eq(accounts.id, o.id))
      : await tx
          .select()
          .from(accounts)
          .where(and(eq(accounts.ownerType, o.ownerType), eq(accounts.ownerId, o.ownerId ?? "")));
    if (!existing) throw new Error(`openAccount: conflict without an existing ${o.ownerType} account`);
    return { account: existing, created: false };
  }
  if (o.fundMinor > 0) {
    const systemId = await ensureSystemAccount(tx, o.currency, o.now);
    await postTransfer(tx, {
      kind: "funding",
      holdId: null,
      debitAccountId: systemId,
      creditAccountId: inserted.id,
      amountMinor: o.fundMinor,
      now: o.now,
    });
  }
  const [account] = await tx.select().from(accounts).where(eq(accounts.id, inserted.id));
  return { account: account!, created: true };
}

/**
 * The campaign's receiving account; created here (balance 0) when a pledge arrives before the
 * campaign.created event, and adopted by that event's consumer later.
 */
export async function campaignAccount(
  tx: BankTx,
  campaignId: string,
  currency: CurrencyCode,
  now: Date,
): Promise<{ account: AccountRow; created: boolean }> {
  const [existing] = await tx
    .select()
    .from(accounts)
    .where(and(eq(accounts.ownerType, "campaign"), eq(accounts.ownerId, campaignId)));
  if (existing) return { account: existing, created: false };
  return openAccount(tx, { ownerType: "campaign", ownerId: campaignId, currency, fundMinor: 0, now });
}

export type WebhookType = "hold.authorized" | "hold.captured" | "hold.released" | "hold.expired" | "hold.failed";

export interface WebhookData {
  holdId: string | null;
  paymentRef: string;
  amountMinor: number;
  currency: CurrencyCode;
  status: "held" | "captured" | "released" | "expired" | "failed";
  reason: string | null;
}

export interface WebhookPayload {
  id: string;
  type: WebhookType;
  createdAt: string;
  data: WebhookData;
}

/** Queues a webhook in the caller's transaction; the sender delivers it after the commit. */
export async function enqueueWebhook(tx: BankTx, clock: Clock, type: WebhookType, data: WebhookData): Promise<string> {
  const [id] = await enqueueWebhooks(tx, clock, [{ type, data }]);
  return id!;
}

/**
 * Queues several webhooks with one INSERT (a batch call's). Ids are minted in the given order, so
 * (UUIDv7 being time-ordered) the sender delivers them in that order when nothing disturbs it.
 */
export async function enqueueWebhooks(
  tx: BankTx,
  clock: Clock,
  webhooks: ReadonlyArray<{ type: WebhookType; data: WebhookData }>,
): Promise<string[]> {
  if (webhooks.length === 0) return [];
  const now = clock.date();
  // The call's trace context goes with each webhook: its delivery continues the donation's trace.
  const trace = injectTraceHeaders();
  const traceHeaders = trace.traceparent ? trace : null;
  const rows = webhooks.map(({ type, data }) => {
    const id = Bun.randomUUIDv7();
    const payload: WebhookPayload = { id, type, createdAt: now.toISOString(), data };
    return { id, type, payload: { ...payload }, nextAttemptAt: now, createdAt: now, traceHeaders };
  });
  await tx.insert(webhookDeliveries).values(rows);
  return rows.map((r) => r.id);
}

export function toBalance(row: AccountRow) {
  return {
    bankAccountId: row.id,
    balanceMinor: row.balanceMinor,
    heldMinor: row.heldMinor,
    availableMinor: row.balanceMinor - row.heldMinor,
    currency: row.currency,
  };
}

/**
 * The balance each fixed test account keeps: a demo account's, like any guest's (anyone may pay
 * from these, so they must never hold more), and nothing for acct_test_insufficient.
 */
export function testAccountBalance(id: string, demoBalanceMinor: number): number {
  return id === TEST_ACCOUNTS.insufficient ? 0 : demoBalanceMinor;
}

/**
 * Ensures the system funding accounts and, when the demo bank is on (`demoBank`, default true),
 * the fixed test accounts with their ordinary balance; an existing one is brought back to it
 * (refillTestAccount, excess given back at once). Idempotent, safe with replicas.
 */
export async function ensureFixedAccounts(
  db: BankDb,
  clock: Clock,
  options: { demoBalanceMinor: number; demoBank?: boolean },
): Promise<void> {
  await db.transaction(async (tx) => {
    const now = clock.date();
    for (const currency of ["BDT", "USD", "EUR"] as const) await ensureSystemAccount(tx, currency, now);
    if (options.demoBank === false) return;
    for (const id of Object.values(TEST_ACCOUNTS)) {
      const balance = testAccountBalance(id, options.demoBalanceMinor);
      const { created } = await openAccount(tx, {
        id,
        ownerType: "test",
        ownerId: null,
        currency: "BDT",
        fundMinor: balance,
        secret: TEST_ACCOUNT_SECRET,
        now,
      });
      if (!created) await refillTestAccount(tx, { id, balanceMinor: balance, periodMs: Number.POSITIVE_INFINITY, now });
    }
  });
}

export interface RefillTestAccount {
  id: string;
  /** The ordinary balance (testAccountBalance). */
  balanceMinor: number;
  /** A top-up happens at most once per period: only when the account's last funding is this old. */
  periodMs: number;
  now: Date;
}

/**
 * Brings a fixed test account back to its ordinary balance: one drawn below it is topped up from
 * the system account, at most once per `periodMs` (counted from its last funding transfer), so
 * it can pour at most one balance a period into campaigns; one holding more (a database from
 * before ordinary balances) gives the available excess back at once. The account row is locked
 * first, so concurrent grants and replicas top up once. Returns the amount moved in (negative: out).
 */
export async function refillTestAccount(tx: BankTx, r: RefillTestAccount): Promise<number> {
  // FOR UPDATE: the decision below reads then writes; the lock makes it one at a time.
  const [account] = await tx.select().from(accounts).where(eq(accounts.id, r.id)).for("update");
  if (!account || account.ownerType !== "test") return 0;
  const systemId = await ensureSystemAccount(tx, account.currency as CurrencyCode, r.now);
  if (account.balanceMinor > r.balanceMinor) {
    const excess = Math.min(account.balanceMinor - r.balanceMinor, account.balanceMinor - account.heldMinor);
    if (excess <= 0) return 0;
    await postTransfer(tx, {
      kind: "funding",
      holdId: null,
      debitAccountId: account.id,
      creditAccountId: systemId,
      amountMinor: excess,
      now: r.now,
    });
    return -excess;
  }
  const missing = r.balanceMinor - account.balanceMinor;
  if (missing <= 0) return 0;
  const [last] = await tx
    .select({ at: max(transfers.createdAt) })
    .from(transfers)
    .where(and(eq(transfers.kind, "funding"), eq(transfers.creditAccountId, account.id)));
  if (last?.at && r.now.getTime() - last.at.getTime() < r.periodMs) return 0;
  await postTransfer(tx, {
    kind: "funding",
    holdId: null,
    debitAccountId: systemId,
    creditAccountId: account.id,
    amountMinor: missing,
    now: r.now,
  });
  return missing;
}
