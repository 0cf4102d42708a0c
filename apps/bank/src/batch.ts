// Batch authorize and capture (POST /bank/authorize/batch, /bank/capture/batch). Each item gets
// exactly the answer the single call with its body would get (same idempotency, webhooks, ledger
// effects), but the happy path of a whole batch is ONE transaction: one INSERT claims every key,
// one locked read per table, set-based updates, one insert per table. What that path cannot
// decide goes through the single-item path, each in its own transaction: correctness first.
import type { Clock } from "@careforall/config";
import { AppError, conflict, notFound, type ProblemDetails, unprocessable } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { BankConfig } from "./config";
import { type AccountRow, accounts, entries, holds, idempotency, transfers } from "./db/schema";
import { decideCapture, newAccountId, requestHash, verifyGrant } from "./domain";
import { type BankDb, type BankTx, enqueueWebhooks, TEST_ACCOUNTS, type WebhookData, type WebhookType } from "./ledger";
import type { BankModel } from "./model";
import { type BankService, type Idempotent, refusal } from "./service";

/** One item's answer: the single call's 200 body (and whether it was a replay), or its problem. */
export type BatchItemResult<T> =
  | { ok: true; status: 200; body: T; replayed: boolean }
  | { ok: false; status: number; problem: ProblemDetails };

export interface BankBatchDeps {
  db: BankDb;
  clock: Clock;
  config: Pick<BankConfig, "GRANT_SECRET" | "HOLD_TTL_SECONDS">;
  /** The single-item path: slow, repeated and undecidable items go through it unchanged. */
  single: Pick<BankService, "authorize" | "capture">;
  log: Logger;
  /** Counts a batch whose one transaction failed (its items then went through the single path). */
  onFallback?: ((operation: BatchOperation) => void) | undefined;
  /** Called after a batch transaction that queued webhooks has committed. */
  onCommitted?: (() => void) | undefined;
}

export type BatchOperation = "authorize" | "capture";
type Problemed = { ok: false; status: number; problem: ProblemDetails };

const problemOf = (err: AppError): Problemed => ({ ok: false, status: err.status, problem: err.toProblem() });
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Runs one item through the single path and turns its AppError (4xx, 409, …) into the item's answer. */
async function settle<T>(work: () => Promise<Idempotent<T>>): Promise<BatchItemResult<T>> {
  try {
    const { body, replayed } = await work();
    return { ok: true, status: 200, body, replayed };
  } catch (err) {
    if (err instanceof AppError) return problemOf(err);
    throw err;
  }
}

/**
 * Splits a batch: items whose key (or, for captures, hold) an earlier item already uses run after
 * the batch through the single path, so they see what the earlier item did exactly as a second
 * single call would; items for which `alone` holds run beside it through the single path.
 */
function partition<T extends { idempotencyKey: string }>(
  items: readonly T[],
  alone: (item: T) => boolean,
  sameTarget?: (item: T) => string,
) {
  const keys = new Set<string>();
  const targets = new Set<string>();
  const batch: number[] = [];
  const beside: number[] = [];
  const after: number[] = [];
  items.forEach((item, i) => {
    const target = sameTarget?.(item);
    if (keys.has(item.idempotencyKey) || (target !== undefined && targets.has(target))) after.push(i);
    else if (alone(item)) beside.push(i);
    else batch.push(i);
    keys.add(item.idempotencyKey);
    if (target !== undefined) targets.add(target);
  });
  return { batch, beside, after };
}

export function createBankBatch({ db, clock, config, single, log, onFallback, onCommitted }: BankBatchDeps) {
  /**
   * Claims every key of the batch with one INSERT (keys in sorted order, so two overlapping
   * batches wait for each other instead of deadlocking). A key that was already claimed answers
   * like the single path: the stored answer (same body), 422 (other body), or 409 (in flight).
   */
  async function claim(
    tx: BankTx,
    operation: BatchOperation,
    wanted: ReadonlyArray<{ key: string; hash: string }>,
    now: Date,
  ): Promise<{ claimed: Set<string>; answers: Map<string, BatchItemResult<unknown>> }> {
    const sorted = [...wanted].sort((a, b) => byText(a.key, b.key));
    // Raw SQL: drizzle has no INSERT … SELECT FROM unnest(…).
    const rows = (await tx.execute(sql`
      insert into ${idempotency} (key, operation, request_hash, status_code, response, created_at)
      select v.key, ${operation}, v.hash, 0, null, ${now.toISOString()}::timestamptz
      from unnest(${sql.param(sorted.map((w) => w.key))}::text[], ${sql.param(sorted.map((w) => w.hash))}::text[]) as v(key, hash)
      on conflict do nothing
      returning key`)) as unknown as Array<{ key: string }>;
    const claimed = new Set(rows.map((r) => r.key));
    const answers = new Map<string, BatchItemResult<unknown>>();
    const others = sorted.filter((w) => !claimed.has(w.key));
    if (others.length === 0) return { claimed, answers };
    const stored = await tx
      .select()
      .from(idempotency)
      .where(
        and(
          eq(idempotency.operation, operation),
          inArray(
            idempotency.key,
            others.map((w) => w.key),
          ),
        ),
      );
    const storedByKey = new Map(stored.map((s) => [s.key, s]));
    for (const { key, hash } of others) {
      const row = storedByKey.get(key);
      if (!row) {
        answers.set(key, problemOf(conflict(`Request with key ${key} is in flight; retry`, "idempotency-in-flight")));
      } else if (row.requestHash !== hash) {
        answers.set(
          key,
          problemOf(
            unprocessable(
              `Idempotency key ${key} was already used for a different ${operation} request`,
              "idempotency-key-reused",
            ),
          ),
        );
      } else {
        answers.set(key, { ok: true, status: 200, body: row.response, replayed: true });
      }
    }
    return { claimed, answers };
  }

  /** Stores the answers of the claimed keys that did their work, with one UPDATE. */
  async function store(tx: BankTx, operation: BatchOperation, done: ReadonlyArray<{ key: string; response: unknown }>) {
    if (done.length === 0) return;
    // Raw SQL: a set-based UPDATE … FROM unnest(…) is beyond drizzle's builder.
    const updated = (await tx.execute(sql`
      update ${idempotency} i
      set status_code = 200, response = v.response::jsonb
      from unnest(${sql.param(done.map((d) => d.key))}::text[], ${sql.param(done.map((d) => JSON.stringify(d.response)))}::text[]) as v(key, response)
      where i.operation = ${operation} and i.key = v.key
      returning i.key`)) as unknown as unknown[];
    if (updated.length !== done.length) throw new Error(`batch ${operation}: ${updated.length}/${done.length} stored`);
  }

  /** Drops the claims of items that were refused (404/409): like a rolled-back single call, nothing is stored. */
  async function unclaim(tx: BankTx, operation: BatchOperation, keys: string[]) {
    if (keys.length === 0) return;
    await tx.delete(idempotency).where(and(eq(idempotency.operation, operation), inArray(idempotency.key, keys)));
  }

  /**
   * Runs the batch part in one transaction; if that fails for any reason (a deadlock, a CHECK
   * backstop that fired, a bug), every one of its items goes through the single path instead,
   * in item order, so the outcome is what the same single calls one after another would give.
   */
  async function inOneTransaction<I, T>(
    operation: BatchOperation,
    items: readonly I[],
    indices: number[],
    run: (tx: BankTx) => Promise<{ answers: Map<number, BatchItemResult<T>>; queued: boolean }>,
    one: (item: I) => Promise<Idempotent<T>>,
    results: Array<BatchItemResult<T> | undefined>,
  ): Promise<void> {
    if (indices.length === 0) return;
    let outcome: { answers: Map<number, BatchItemResult<T>>; queued: boolean } | undefined;
    try {
      outcome = await db.transaction(run);
    } catch (err) {
      log.warn({ err, operation, items: indices.length }, "bank.batch_fallback");
      onFallback?.(operation);
      outcome = undefined;
    }
    if (outcome) {
      for (const [i, answer] of outcome.answers) results[i] = answer;
      if (outcome.queued) onCommitted?.();
      return;
    }
    for (const i of indices) results[i] = await settle(() => one(items[i]!));
  }

  /** Waits for every part; an unexpected error fails the whole call (a 5xx: every outcome unknown). */
  async function waitAll(parts: Promise<unknown>[]): Promise<void> {
    const settled = await Promise.allSettled(parts);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  }

  function complete<T>(results: Array<BatchItemResult<T> | undefined>): BatchItemResult<T>[] {
    return Array.from(results, (r, i) => {
      if (!r) throw new Error(`batch: item ${i} has no answer`);
      return r;
    });
  }

  // ── Authorize ─────────────────────────────────────────────────────────────────────────────

  async function authorizeInOneTransaction(
    tx: BankTx,
    items: readonly BankModel.AuthorizeBody[],
    indices: number[],
  ): Promise<{ answers: Map<number, BatchItemResult<BankModel.AuthorizeResult>>; queued: boolean }> {
    const now = clock.date();
    const { claimed, answers: prior } = await claim(
      tx,
      "authorize",
      indices.map((i) => ({ key: items[i]!.idempotencyKey, hash: requestHash(items[i]) })),
      now,
    );
    const answers = new Map<number, BatchItemResult<BankModel.AuthorizeResult>>();
    const work: number[] = [];
    for (const i of indices) {
      const key = items[i]!.idempotencyKey;
      if (claimed.has(key)) work.push(i);
      else answers.set(i, prior.get(key) as BatchItemResult<BankModel.AuthorizeResult>);
    }
    if (work.length === 0) return { answers, queued: false };

    // The same checks as the single path, in the same order. Grants need no database.
    const failure = new Map<number, BankModel.FailureReason>();
    const granted = work.filter((i) => {
      const item = items[i]!;
      const grant = verifyGrant(config.GRANT_SECRET, item.grant, now.getTime() / 1000);
      if (grant && grant.accountId === item.accountId) return true;
      failure.set(i, "invalid_grant");
      return false;
    });
    // Payers are locked in id order (as every writer of accounts does), so the balance decisions
    // below are exact for this transaction; the CHECK constraints stay the backstop.
    const payerIds = [...new Set(granted.map((i) => items[i]!.accountId))].sort(byText);
    const payers = new Map<string, AccountRow>();
    if (payerIds.length > 0) {
      const rows = await tx
        .select()
        .from(accounts)
        .where(inArray(accounts.id, payerIds))
        .orderBy(asc(accounts.id))
        .for("no key update");
      for (const row of rows) payers.set(row.id, row);
    }
    const payable: number[] = [];
    for (const i of granted) {
      const item = items[i]!;
      const account = payers.get(item.accountId);
      if (!account || account.ownerType === "system" || account.ownerType === "campaign")
        failure.set(i, "invalid_grant");
      else if (account.id === TEST_ACCOUNTS.declined) failure.set(i, "declined");
      else if (account.id === TEST_ACCOUNTS.insufficient) failure.set(i, "insufficient_funds");
      else if (account.currency !== item.currency) failure.set(i, "currency_mismatch");
      else payable.push(i);
    }

    const receiving = await campaignAccounts(
      tx,
      payable.map((i) => items[i]!),
      now,
    );
    const available = new Map([...payers.values()].map((a) => [a.id, a.balanceMinor - a.heldMinor]));
    const heldDelta = new Map<string, number>();
    const expiresAt = new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000);
    const newHolds: Array<typeof holds.$inferInsert> = [];
    const webhooks: Array<{ type: WebhookType; data: WebhookData }> = [];
    const done: Array<{ key: string; response: BankModel.AuthorizeResult }> = [];
    const payableSet = new Set(payable);
    // Item order, as if the single calls came one after another: a later hold sees the earlier ones.
    for (const i of work) {
      const item = items[i]!;
      const { amountMinor, currency, paymentRef } = item;
      let reason = failure.get(i);
      const to = payableSet.has(i) ? receiving.get(item.campaignId) : undefined;
      if (!reason && to && to.currency !== currency) reason = "currency_mismatch";
      if (!reason && (available.get(item.accountId) ?? 0) < amountMinor) reason = "insufficient_funds";
      let response: BankModel.AuthorizeResult;
      if (reason || !to) {
        const why = reason ?? "invalid_grant";
        webhooks.push({
          type: "hold.failed",
          data: { holdId: null, paymentRef, amountMinor, currency, status: "failed", reason: why },
        });
        response = { holdId: null, status: "failed", reason: why, amountMinor, currency, expiresAt: null };
      } else {
        available.set(item.accountId, available.get(item.accountId)! - amountMinor);
        heldDelta.set(item.accountId, (heldDelta.get(item.accountId) ?? 0) + amountMinor);
        const holdId = Bun.randomUUIDv7();
        newHolds.push({
          id: holdId,
          idempotencyKey: item.idempotencyKey,
          accountId: item.accountId,
          campaignId: item.campaignId,
          toAccountId: to.id,
          amountMinor,
          currency,
          status: "held",
          paymentRef,
          expiresAt,
          createdAt: now,
          updatedAt: now,
        });
        webhooks.push({
          type: "hold.authorized",
          data: { holdId, paymentRef, amountMinor, currency, status: "held", reason: null },
        });
        response = { holdId, status: "held", reason: null, amountMinor, currency, expiresAt: expiresAt.toISOString() };
      }
      done.push({ key: item.idempotencyKey, response });
      answers.set(i, { ok: true, status: 200, body: response, replayed: false });
    }

    if (heldDelta.size > 0) {
      const ids = [...heldDelta.keys()].sort(byText);
      // Raw SQL: one set-based conditional UPDATE for every payer (drizzle has no UPDATE … FROM unnest).
      const updated = (await tx.execute(sql`
        update ${accounts} a
        set held_minor = a.held_minor + v.delta
        from unnest(${sql.param(ids)}::text[], ${sql.param(ids.map((id) => heldDelta.get(id)!))}::bigint[]) as v(id, delta)
        where a.id = v.id and a.balance_minor - a.held_minor >= v.delta
        returning a.id`)) as unknown as unknown[];
      if (updated.length !== ids.length) throw new Error("batch authorize: a payer's balance moved under its lock");
      await tx.insert(holds).values(newHolds);
    }
    await enqueueWebhooks(tx, clock, webhooks);
    await store(tx, "authorize", done);
    return { answers, queued: true };
  }

  /**
   * The receiving account of every campaign the items pay into: one read, and one insert for the
   * campaigns that have none yet (each gets the currency of its first item, as the first single
   * call would give it).
   */
  async function campaignAccounts(
    tx: BankTx,
    items: readonly BankModel.AuthorizeBody[],
    now: Date,
  ): Promise<Map<string, AccountRow>> {
    const found = new Map<string, AccountRow>();
    const campaignIds = [...new Set(items.map((i) => i.campaignId))].sort(byText);
    if (campaignIds.length === 0) return found;
    const read = () =>
      tx
        .select()
        .from(accounts)
        .where(and(eq(accounts.ownerType, "campaign"), inArray(accounts.ownerId, campaignIds)));
    for (const row of await read()) found.set(row.ownerId!, row);
    const missing = campaignIds.filter((id) => !found.has(id));
    if (missing.length === 0) return found;
    const currencyOf = new Map<string, BankModel.AuthorizeBody["currency"]>();
    for (const item of items) if (!currencyOf.has(item.campaignId)) currencyOf.set(item.campaignId, item.currency);
    await tx
      .insert(accounts)
      .values(
        missing.map((campaignId) => ({
          id: newAccountId(),
          ownerType: "campaign" as const,
          ownerId: campaignId,
          currency: currencyOf.get(campaignId)!,
          secretHash: null,
          createdAt: now,
        })),
      )
      .onConflictDoNothing();
    for (const row of await read()) found.set(row.ownerId!, row);
    return found;
  }

  async function authorizeBatch(
    items: readonly BankModel.AuthorizeBody[],
  ): Promise<BatchItemResult<BankModel.AuthorizeResult>[]> {
    const results: Array<BatchItemResult<BankModel.AuthorizeResult> | undefined> = new Array(items.length);
    // The slow test account answers late (a sleep before its transaction): beside the batch, so
    // the rest commits without waiting for it.
    const { batch, beside, after } = partition(items, (item) => item.accountId === TEST_ACCOUNTS.slow);
    const slow = beside.map(async (i) => {
      results[i] = await settle(() => single.authorize(items[i]!));
    });
    const main = inOneTransaction(
      "authorize",
      items,
      batch,
      (tx) => authorizeInOneTransaction(tx, items, batch),
      single.authorize,
      results,
    );
    await waitAll([main, ...slow]);
    for (const i of after) results[i] = await settle(() => single.authorize(items[i]!));
    return complete(results);
  }

  // ── Capture ───────────────────────────────────────────────────────────────────────────────

  async function captureInOneTransaction(
    tx: BankTx,
    items: readonly BankModel.CaptureBody[],
    indices: number[],
  ): Promise<{ answers: Map<number, BatchItemResult<BankModel.CaptureResult>>; queued: boolean }> {
    const now = clock.date();
    const { claimed, answers: prior } = await claim(
      tx,
      "capture",
      indices.map((i) => ({ key: items[i]!.idempotencyKey, hash: requestHash(items[i]) })),
      now,
    );
    const answers = new Map<number, BatchItemResult<BankModel.CaptureResult>>();
    const work: number[] = [];
    for (const i of indices) {
      const key = items[i]!.idempotencyKey;
      if (claimed.has(key)) work.push(i);
      else answers.set(i, prior.get(key) as BatchItemResult<BankModel.CaptureResult>);
    }
    if (work.length === 0) return { answers, queued: false };

    // Holds locked in id order (one hold per item: repeated holds were split off), then decided
    // with the same pure rule the single path uses to explain its refusals.
    const holdRows = await tx
      .select()
      .from(holds)
      .where(
        inArray(
          holds.id,
          work.map((i) => items[i]!.holdId),
        ),
      )
      .orderBy(asc(holds.id))
      .for("no key update");
    const holdById = new Map(holdRows.map((h) => [h.id, h]));
    const refused: string[] = [];
    const captures: Array<{ i: number; hold: (typeof holdRows)[number]; amount: number; transferId: string }> = [];
    for (const i of work) {
      const item = items[i]!;
      const hold = holdById.get(item.holdId);
      const decision = hold ? decideCapture(hold, item.amountMinor, now) : undefined;
      if (!hold || !decision) {
        answers.set(i, problemOf(notFound(`Hold ${item.holdId} does not exist`)));
        refused.push(item.idempotencyKey);
      } else if (!decision.ok) {
        answers.set(i, problemOf(refusal(decision, item.holdId)));
        refused.push(item.idempotencyKey);
      } else {
        captures.push({ i, hold, amount: decision.amountMinor, transferId: Bun.randomUUIDv7() });
      }
    }
    await unclaim(tx, "capture", refused);
    if (captures.length === 0) return { answers, queued: false };

    // Raw SQL: one set-based conditional UPDATE for every hold.
    const updated = (await tx.execute(sql`
      update ${holds} h
      set status = 'captured', captured_minor = v.amount, updated_at = ${now.toISOString()}::timestamptz
      from unnest(${sql.param(captures.map((c) => c.hold.id))}::uuid[], ${sql.param(captures.map((c) => c.amount))}::bigint[]) as v(id, amount)
      where h.id = v.id and h.status = 'held'
      returning h.id`)) as unknown as unknown[];
    if (updated.length !== captures.length) throw new Error("batch capture: a hold moved under its lock");

    await tx.insert(transfers).values(
      captures.map((c) => ({
        id: c.transferId,
        kind: "capture" as const,
        holdId: c.hold.id,
        debitAccountId: c.hold.accountId,
        creditAccountId: c.hold.toAccountId,
        amountMinor: c.amount,
        createdAt: now,
      })),
    );

    // Every account the captures touch, locked in id order; the running balances give each entry
    // its balance-after in the order the entries are inserted (their ids follow that order).
    const accountIds = [...new Set(captures.flatMap((c) => [c.hold.accountId, c.hold.toAccountId]))].sort(byText);
    const locked = await tx
      .select({ id: accounts.id, balanceMinor: accounts.balanceMinor, heldMinor: accounts.heldMinor })
      .from(accounts)
      .where(inArray(accounts.id, accountIds))
      .orderBy(asc(accounts.id))
      .for("no key update");
    const balance = new Map(locked.map((a) => [a.id, a.balanceMinor]));
    const delta = new Map(accountIds.map((id) => [id, { balance: 0, held: 0 }]));
    const newEntries: Array<typeof entries.$inferInsert> = [];
    for (const c of captures) {
      // A partial capture settles the whole hold: the captured part moves, the rest is released.
      const legs = [
        { accountId: c.hold.accountId, amount: -c.amount, held: -c.hold.amountMinor },
        { accountId: c.hold.toAccountId, amount: c.amount, held: 0 },
      ].sort((a, b) => byText(a.accountId, b.accountId));
      for (const leg of legs) {
        const after = balance.get(leg.accountId)! + leg.amount;
        balance.set(leg.accountId, after);
        const d = delta.get(leg.accountId)!;
        d.balance += leg.amount;
        d.held += leg.held;
        newEntries.push({
          transferId: c.transferId,
          accountId: leg.accountId,
          amountMinor: leg.amount,
          balanceAfterMinor: after,
          createdAt: now,
        });
      }
    }
    const moved = (await tx.execute(sql`
      update ${accounts} a
      set balance_minor = a.balance_minor + v.delta, held_minor = a.held_minor + v.held
      from unnest(
        ${sql.param(accountIds)}::text[],
        ${sql.param(accountIds.map((id) => delta.get(id)!.balance))}::bigint[],
        ${sql.param(accountIds.map((id) => delta.get(id)!.held))}::bigint[]
      ) as v(id, delta, held)
      where a.id = v.id
      returning a.id, a.balance_minor`)) as unknown as Array<{ id: string; balance_minor: string | number }>;
    if (moved.length !== accountIds.length || moved.some((m) => Number(m.balance_minor) !== balance.get(m.id)))
      throw new Error("batch capture: an account moved under its lock");
    await tx.insert(entries).values(newEntries);

    await enqueueWebhooks(
      tx,
      clock,
      captures.map(({ hold, amount }) => ({
        type: "hold.captured" as const,
        data: {
          holdId: hold.id,
          paymentRef: hold.paymentRef,
          amountMinor: amount,
          currency: hold.currency,
          status: "captured" as const,
          reason: null,
        },
      })),
    );
    const done = captures.map(({ i, hold, amount, transferId }) => {
      const response: BankModel.CaptureResult = {
        holdId: hold.id,
        transferId,
        capturedMinor: amount,
        status: "captured",
      };
      answers.set(i, { ok: true, status: 200, body: response, replayed: false });
      return { key: items[i]!.idempotencyKey, response };
    });
    await store(tx, "capture", done);
    return { answers, queued: true };
  }

  async function captureBatch(
    items: readonly BankModel.CaptureBody[],
  ): Promise<BatchItemResult<BankModel.CaptureResult>[]> {
    const results: Array<BatchItemResult<BankModel.CaptureResult> | undefined> = new Array(items.length);
    const { batch, after } = partition(
      items,
      () => false,
      (item) => item.holdId,
    );
    await inOneTransaction(
      "capture",
      items,
      batch,
      (tx) => captureInOneTransaction(tx, items, batch),
      single.capture,
      results,
    );
    for (const i of after) results[i] = await settle(() => single.capture(items[i]!));
    return complete(results);
  }

  return { authorizeBatch, captureBatch };
}

export type BankBatch = ReturnType<typeof createBankBatch>;
