// The Idempotency-Key store of pledge creation. A request is a `KeyClaim` (donor scope, key,
// request hash, and what seals a guest's receipt token); the database decides which request
// owns a key: `accept` writes the key's answer together with the pledge in one statement (the
// `pledge.accept_pledge` function), `storeRejection` writes a business rejection as the answer,
// and `answer` turns an existing key into its replay, 409 (still in flight) or 422 (other request).
import type { Clock } from "@careforall/config";
import { createGroupCommit, type GroupCommitOptions, isStatementError } from "@careforall/db";
import { AppError, conflict, type ProblemDetails, unprocessable } from "@careforall/http";
import type { Breaker } from "@careforall/resilience";
import { and, eq, sql } from "drizzle-orm";
import { campaigns, type IdempotencyRow, idempotencyKeys } from "./db/schema";
import { type CampaignView, judgeExistingKey, openReceiptToken } from "./domain";
import type { PledgeModel } from "./model";
import { orderedPledge, type PledgeDb } from "./pledge-store";

/** One request's hold on an Idempotency-Key. */
export interface KeyClaim {
  scope: string;
  key: string;
  /** requestHash(canonicalRequest(...)): tells "the same request again" from another one. */
  hash: string;
  /** What seals a guest's receipt token: only this exact request (with its secret) reopens it. */
  sealMaterial: string;
}

export interface CreatePledgeResult {
  body: PledgeModel.CreatedPledge;
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

/** What the key holds when it is not ours to write. */
export type ExistingKey = Pick<
  IdempotencyRow,
  "state" | "requestHash" | "responseStatus" | "responseBody" | "sealedReceiptToken"
>;

/**
 * A business rejection stored with its Idempotency-Key: thrown the first time and on every
 * replay from the same stored body, in one key order, so both answers are byte-identical.
 */
export class StoredProblem extends AppError {
  readonly problem: ProblemDetails;
  constructor(problem: ProblemDetails, replayed: boolean) {
    super({
      status: problem.status,
      code: "stored",
      title: problem.title,
      ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
      ...(replayed ? { headers: { "idempotent-replayed": "true" } } : {}),
    });
    this.problem = problem;
  }
  override toProblem(): ProblemDetails {
    const p = this.problem;
    return {
      type: p.type,
      title: p.title,
      status: p.status,
      ...(p.detail !== undefined ? { detail: p.detail } : {}),
      ...(p.errors ? { errors: p.errors } : {}),
    };
  }
}

/** Everything `pledge.accept_pledge` writes when the key is ours: decided before the call. */
export interface AcceptWrite {
  now: Date;
  refused: boolean;
  pledge: {
    id: string;
    campaignId: string;
    donorId: string | null;
    donorKey: string;
    donorName: string | null;
    guestEmail: string | null;
    amountMinor: number;
    currency: string;
    anonymous: boolean;
    message: string | null;
    sourceAccountId: string;
    receiptTokenHash: string | null;
  };
  sealedReceiptToken: string | null;
  /** The 202 body stored as the key's answer (the Pledge, without the receipt token). */
  responseJson: string;
  event: { id: string; json: string; headersJson: string };
}

export type Claimed =
  | { kind: "owned"; lockId: string; campaign: CampaignView | undefined }
  | { kind: "existing"; existing: ExistingKey | undefined };

export type AcceptOutcome =
  | { outcome: "created" }
  | { outcome: "existing"; existing: ExistingKey | undefined }
  | { outcome: "unknown" }
  | { outcome: "closed" | "ended" | "currency"; campaignCurrency: string }
  | { outcome: "refused"; campaignCurrency: string };

// Prepared once per connection (postgres.js names it): the hot path of every donation. One call
// accepts a whole batch (`accept_pledges`, migration 0003); an item alone is a batch of one.
const ACCEPT_SQL = "select * from pledge.accept_pledges($1::jsonb)";

interface AcceptRow {
  i: number;
  outcome: AcceptOutcome["outcome"];
  campaign_currency: string | null;
  state: "in_flight" | "done" | null;
  request_hash: string | null;
  response_status: number | null;
  response_body: Record<string, unknown> | null;
  sealed_receipt_token: string | null;
}

/** How accepts are grouped into batches: batches in flight at once, the most accepts one carries, the deadline. */
export type AcceptBatching = Pick<GroupCommitOptions<unknown, unknown>, "concurrency" | "maxBatch" | "deadlineMs">;

export interface KeyStoreDeps {
  db: PledgeDb;
  clock: Clock;
  /** How long a key is kept (the contract: at least 24 hours). */
  ttlMs: number;
  /** A claim older than this was left by a dead process and may be taken over by the same request. */
  lockMs: number;
  /** Called for every answer replayed from a stored key (metrics). */
  onReplay?: (() => void) | undefined;
  batching: AcceptBatching;
  /** Accepts go through it: while PostgreSQL is known to be away they fail at once (BreakerOpenError). */
  breaker?: Breaker | undefined;
  /** Called with the size of every accept batch sent (metrics). */
  onAcceptBatch?: ((size: number) => void) | undefined;
}

/** One accept waiting for its batch. */
interface AcceptItem {
  claim: KeyClaim;
  w: AcceptWrite;
  lockId: string | null;
}

const inFlight = () =>
  conflict("A request with this Idempotency-Key is still being processed; retry shortly", "idempotency-in-flight");

export function createKeyStore({ db, clock, ttlMs, lockMs, onReplay, batching, breaker, onAcceptBatch }: KeyStoreDeps) {
  const staleBefore = (now: Date) => new Date(now.getTime() - lockMs);
  /** When an existing key may be overwritten: our own claim, an expired key, or this request's dead claim. */
  const takeover = (now: Date, ownClaim: string | null) =>
    sql`(${idempotencyKeys.state} = 'in_flight' and ${idempotencyKeys.lockId} = ${ownClaim}::uuid)
      or ${idempotencyKeys.expiresAt} <= ${now.toISOString()}::timestamptz
      or (${idempotencyKeys.state} = 'in_flight' and ${idempotencyKeys.lockedAt} <= ${staleBefore(now).toISOString()}::timestamptz
          and ${idempotencyKeys.requestHash} = excluded.request_hash)`;

  /**
   * Writes the key's row — a claim in flight, or a stored answer — unless another request holds
   * it; every column comes from the new row, so a takeover leaves nothing of the old one.
   */
  function upsertKey(
    c: KeyClaim,
    row: {
      state: "in_flight" | "done";
      lockId: string;
      now: Date;
      responseStatus?: number;
      responseBody?: Record<string, unknown>;
    },
    ownClaim: string | null,
  ) {
    return db
      .insert(idempotencyKeys)
      .values({
        scope: c.scope,
        key: c.key,
        requestHash: c.hash,
        state: row.state,
        lockId: row.lockId,
        lockedAt: row.now,
        responseStatus: row.responseStatus ?? null,
        responseBody: row.responseBody ?? null,
        createdAt: row.now,
        expiresAt: new Date(row.now.getTime() + ttlMs),
      })
      .onConflictDoUpdate({
        target: [idempotencyKeys.scope, idempotencyKeys.key],
        set: {
          requestHash: sql`excluded.request_hash`,
          state: sql`excluded.state`,
          lockId: sql`excluded.lock_id`,
          lockedAt: sql`excluded.locked_at`,
          responseStatus: sql`excluded.response_status`,
          responseBody: sql`excluded.response_body`,
          sealedReceiptToken: null,
          pledgeId: null,
          createdAt: sql`excluded.created_at`,
          expiresAt: sql`excluded.expires_at`,
        },
        setWhere: takeover(row.now, ownClaim),
      });
  }

  /**
   * Claims the key in flight before a bank call (only when the grant is not cached), so that the
   * bank is asked at most once per key; returns the campaign as the read model sees it, so a
   * closed or unknown campaign never reaches the bank either.
   */
  async function claim(c: KeyClaim, campaignId: string): Promise<Claimed> {
    const now = clock.date();
    const lockId = Bun.randomUUIDv7();
    const [claimed] = await upsertKey(c, { state: "in_flight", lockId, now }, null).returning({
      lockId: idempotencyKeys.lockId,
      campaignStatus: sql<string | null>`(select status from ${campaigns} where id = ${campaignId}::uuid)`,
      campaignCurrency: sql<string | null>`(select currency from ${campaigns} where id = ${campaignId}::uuid)`,
      campaignEndsAt: sql<Date | null>`(select ends_at from ${campaigns} where id = ${campaignId}::uuid)`.mapWith(
        campaigns.endsAt,
      ),
    });
    if (claimed?.lockId !== lockId) return { kind: "existing", existing: await find(c) };
    const campaign =
      claimed.campaignStatus && claimed.campaignCurrency
        ? ({
            status: claimed.campaignStatus,
            currency: claimed.campaignCurrency,
            endsAt: claimed.campaignEndsAt,
          } as CampaignView)
        : undefined;
    return { kind: "owned", lockId, campaign };
  }

  /** Frees our in-flight claim (nothing was stored for it), so the client may retry the key. */
  async function release(c: KeyClaim, lockId: string): Promise<void> {
    await db
      .delete(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.scope, c.scope),
          eq(idempotencyKeys.key, c.key),
          eq(idempotencyKeys.lockId, lockId),
          eq(idempotencyKeys.state, "in_flight"),
        ),
      );
  }

  async function find(claim: KeyClaim): Promise<IdempotencyRow | undefined> {
    const [row] = await db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, claim.scope), eq(idempotencyKeys.key, claim.key)));
    return row;
  }

  /** The stored answer for an existing key, or 422 / 409 when it is another request or not finished. */
  function answer(existing: ExistingKey | undefined, claim: KeyClaim): CreatePledgeResult {
    // Gone between the conflict and the read (expired and pruned): the client simply retries.
    if (!existing) throw inFlight();
    const verdict = judgeExistingKey(existing, claim.hash);
    if (verdict === "mismatch")
      throw unprocessable(
        "This Idempotency-Key was already used with a different request; use a new key",
        "idempotency-key-reused",
      );
    if (verdict === "in-flight") throw inFlight();
    onReplay?.();
    const body = existing.responseBody as Record<string, unknown>;
    if (existing.responseStatus !== 202) throw new StoredProblem(body as unknown as ProblemDetails, true);
    const pledge = orderedPledge(body as unknown as PledgeModel.Pledge);
    const token = existing.sealedReceiptToken
      ? openReceiptToken(existing.sealedReceiptToken, claim.sealMaterial)
      : null;
    return { body: token ? { ...pledge, receiptToken: token } : pledge, replayed: true };
  }

  /** One accept as one element of `accept_pledges`' array; the JSON bodies are spliced in as they are. */
  function itemJson(i: number, { claim, w, lockId }: AcceptItem): string {
    const p = w.pledge;
    const scalars = JSON.stringify({
      i,
      scope: claim.scope,
      key: claim.key,
      request_hash: claim.hash,
      now: w.now.toISOString(),
      expires_at: new Date(w.now.getTime() + ttlMs).toISOString(),
      stale_before: staleBefore(w.now).toISOString(),
      refused: w.refused,
      id: p.id,
      campaign_id: p.campaignId,
      donor_id: p.donorId,
      donor_key: p.donorKey,
      donor_name: p.donorName,
      guest_email: p.guestEmail,
      amount_minor: p.amountMinor,
      currency: p.currency,
      anonymous: p.anonymous,
      message: p.message,
      source_account_id: p.sourceAccountId,
      receipt_token_hash: p.receiptTokenHash,
      sealed_receipt_token: w.sealedReceiptToken,
      event_id: w.event.id,
      lock_id: lockId,
    });
    return `${scalars.slice(0, -1)},"response_body":${w.responseJson},"event":${w.event.json},"event_headers":${w.event.headersJson}}`;
  }

  function toOutcome(row: AcceptRow): AcceptOutcome {
    switch (row.outcome) {
      case "created":
      case "unknown":
        return { outcome: row.outcome };
      case "existing":
        return {
          outcome: "existing",
          existing:
            row.state === null || row.request_hash === null
              ? undefined
              : {
                  state: row.state,
                  requestHash: row.request_hash,
                  responseStatus: row.response_status,
                  responseBody: row.response_body,
                  sealedReceiptToken: row.sealed_receipt_token,
                },
        };
      default:
        return { outcome: row.outcome, campaignCurrency: row.campaign_currency ?? "" };
    }
  }

  /** One statement, one commit for every accept of the batch; one outcome per item, in order. */
  async function acceptBatch(items: AcceptItem[]): Promise<AcceptOutcome[]> {
    // db.$client is drizzle's postgres.js client: it sends a string for a jsonb parameter as is.
    const rows = (await db.$client.unsafe(ACCEPT_SQL, [`[${items.map((it, i) => itemJson(i, it)).join(",")}]`], {
      prepare: true,
    })) as unknown as AcceptRow[];
    const outcomes: AcceptOutcome[] = new Array(items.length);
    for (const row of rows) outcomes[row.i] = toOutcome(row);
    // A key the statement returned no row for (none is expected): treated as "existing, unknown".
    for (let i = 0; i < items.length; i++) outcomes[i] ??= { outcome: "existing", existing: undefined };
    return outcomes;
  }

  const acceptGroup = createGroupCommit<AcceptItem, AcceptOutcome>({
    run: acceptBatch,
    concurrency: batching.concurrency,
    maxBatch: batching.maxBatch,
    deadlineMs: batching.deadlineMs,
    // A statement error may be one item's fault (tried alone); an unreachable database is nobody's.
    retryAlone: isStatementError,
    onBatch: onAcceptBatch,
  });

  /**
   * Claims the key and, when it is ours, writes the pledge, its history, its event and the answer:
   * one statement, shared with whatever other accepts are waiting for a write slot (group commit).
   */
  function accept(claim: KeyClaim, w: AcceptWrite, lockId: string | null): Promise<AcceptOutcome> {
    const submit = () => acceptGroup.submit({ claim, w, lockId });
    return breaker ? breaker.run(submit) : submit();
  }

  /**
   * Stores a business rejection (402, 409, 422) as the key's answer and throws it; when another
   * request holds the key, answers what the key holds instead (a replay, 409 or 422). The takeover rule is the one of
   * `pledge.accept_pledge`: an expired key, or this same request's claim left by a dead process.
   */
  async function storeRejection(
    claim: KeyClaim,
    error: AppError,
    ownClaim: string | null,
  ): Promise<CreatePledgeResult> {
    const problem = error.toProblem();
    const now = clock.date();
    const lockId = Bun.randomUUIDv7();
    const [stored] = await upsertKey(
      claim,
      {
        state: "done",
        lockId,
        now,
        responseStatus: problem.status,
        responseBody: problem as unknown as Record<string, unknown>,
      },
      ownClaim,
    ).returning({ lockId: idempotencyKeys.lockId });
    if (stored?.lockId === lockId) throw new StoredProblem(problem, false);
    return answer(await find(claim), claim);
  }

  /** Deletes keys past their retention (the contract keeps them at least 24 hours). */
  async function prune(limit = 1000): Promise<number> {
    // Raw SQL: drizzle's delete has no LIMIT; batches keep each delete short.
    const rows = await db.execute(sql`
      delete from ${idempotencyKeys} where ctid in (
        select ctid from ${idempotencyKeys} where ${idempotencyKeys.expiresAt} <= ${clock.date().toISOString()}::timestamptz limit ${limit}
      ) returning 1`);
    return (rows as unknown as unknown[]).length;
  }

  return { find, answer, claim, release, accept, storeRejection, prune };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
