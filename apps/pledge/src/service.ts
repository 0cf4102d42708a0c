// Pledge use cases, free of HTTP. Creating a pledge is three named phases with a recovery point
// between them (rocket-rides-atomic): (1) claim the Idempotency-Key in its own transaction,
// (2) check the campaign and get a grant from the bank — outside any transaction —, (3) one
// transaction writes the pledge, its history, its pledge.created event and the key's stored answer.
import type { Clock } from "@careforall/config";
import { PledgeCreated } from "@careforall/events";
import {
  AppError,
  badRequest,
  conflict,
  forbidden,
  notFound,
  type Principal,
  type ProblemDetails,
  paymentRequired,
  serviceUnavailable,
  unauthorized,
  unprocessable,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent } from "@careforall/outbox";
import { and, asc, desc, eq, gt, inArray, lt, lte, type SQL, sql } from "drizzle-orm";
import type { SourceVerifier } from "./bank-client";
import type { PledgeConfig } from "./config";
import { campaigns, type IdempotencyRow, idempotencyKeys, outbox, pledgeHistory, pledges } from "./db/schema";
import {
  type CampaignVerdict,
  campaignAccepts,
  canonicalRequest,
  decide,
  decodeListCursor,
  donorIdentity,
  encodeListCursor,
  hashReceiptToken,
  headerText,
  judgeExistingKey,
  newReceiptToken,
  normaliseEmail,
  openReceiptToken,
  type PledgeStatus,
  pageOf,
  receiptTokenMatches,
  requestHash,
  sealReceiptToken,
} from "./domain";
import type { PledgeModel } from "./model";
import {
  applyTransition,
  lockPledge,
  orderedPledge,
  type PledgeDb,
  type PledgeTx,
  pledgeChange,
  pledgesWithHistory,
  toPledge,
} from "./pledge-store";

export type { PledgeDb } from "./pledge-store";

export interface PledgeServiceDeps {
  db: PledgeDb;
  verifier: SourceVerifier;
  clock: Clock;
  log: Logger;
  config: Pick<
    PledgeConfig,
    "IDEMPOTENCY_TTL_HOURS" | "IDEMPOTENCY_LOCK_SECONDS" | "BANK_TIMEOUT_MS" | "STUCK_AFTER_SECONDS"
  >;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
  /** Called for every answer replayed from a stored Idempotency-Key (metrics). */
  onReplay?: (() => void) | undefined;
}

export interface CreatePledgeCommand {
  campaignId: string;
  idempotencyKey: string;
  body: PledgeModel.CreatePledgeBody;
  /** The signed-in donor, or null for a guest. */
  viewer: Principal | null;
  /** The signed-in donor's own bank account, as the gateway knows it from auth. */
  donorBankAccount?: string | undefined;
  donorName?: string | undefined;
}

export interface CreatePledgeResult {
  body: PledgeModel.CreatedPledge;
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

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

/** Our request no longer owns its in-flight key (a retry took a stale one over). */
class LostKey extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPEN_STATUSES: PledgeStatus[] = ["pending", "authorized"];

function verdictProblem(verdict: Exclude<CampaignVerdict, { ok: true }>): AppError {
  if (verdict.reason === "closed") return conflict(verdict.detail, "campaign-closed");
  if (verdict.reason === "currency") return unprocessable(verdict.detail, "currency-mismatch");
  return notFound(verdict.detail);
}

export function createPledgeService(deps: PledgeServiceDeps) {
  const { db, verifier, clock, log, config, onCommitted, onReplay } = deps;
  const ttlMs = config.IDEMPOTENCY_TTL_HOURS * 3_600_000;
  // A request that holds a key longer than this is presumed dead (its process was killed). The
  // bank call alone may take BANK_TIMEOUT_MS, so the lock always outlasts it with room to spare.
  const lockMs = Math.max(config.IDEMPOTENCY_LOCK_SECONDS * 1000, config.BANK_TIMEOUT_MS + 30_000);

  // ── create ──────────────────────────────────────────────────────────────────────────────

  /** Who pays and from which account; everything a 400 can be about, decided before anything is stored. */
  function planCreate(cmd: CreatePledgeCommand) {
    const { body, viewer } = cmd;
    if (viewer) {
      // donor_id is a uuid column; auth only issues UUIDv7 subjects, anything else is not one of ours.
      if (!UUID.test(viewer.id)) throw unauthorized("The access token's subject is not a user id");
      const source = body.source
        ? { accountId: body.source.bankAccountId, accountSecret: body.source.accountSecret }
        : cmd.donorBankAccount
          ? { accountId: cmd.donorBankAccount, ownerUserId: viewer.id }
          : null;
      if (!source)
        throw badRequest("You have no bank account linked yet; name one in source", [
          { path: "source", message: "Required while your own bank account is not linked" },
        ]);
      const name = headerText(cmd.donorName) || viewer.name.trim() || null;
      return {
        identity: donorIdentity({ userId: viewer.id }),
        donorId: viewer.id,
        donorName: name,
        guestEmail: null,
        source,
      };
    }
    const missing = [
      ...(body.donor ? [] : [{ path: "donor", message: "Required for guests: { email, name }" }]),
      ...(body.source ? [] : [{ path: "source", message: "Required for guests: { bankAccountId, accountSecret }" }]),
    ];
    if (!body.donor || !body.source) throw badRequest("Guests must send donor and source", missing);
    return {
      identity: donorIdentity({ guestEmail: body.donor.email }),
      donorId: null,
      donorName: body.donor.name.trim() || null,
      guestEmail: normaliseEmail(body.donor.email),
      source: { accountId: body.source.bankAccountId, accountSecret: body.source.accountSecret },
    };
  }

  async function create(cmd: CreatePledgeCommand): Promise<CreatePledgeResult> {
    const plan = planCreate(cmd);
    const canonical = canonicalRequest(cmd.campaignId, cmd.body);
    const hash = requestHash(canonical);
    const scope = plan.identity.scope;
    const key = cmd.idempotencyKey;
    // What seals a guest's receipt token: only this exact request (with its secret) reopens it.
    const sealMaterial = `${scope}\n${key}\n${canonical}`;

    // Phase 1: the database decides which request owns the key.
    const claim = await claimKey(scope, key, hash);
    if (claim.kind === "existing") return replay(claim.row, hash, sealMaterial);
    const lockId = claim.lockId;

    try {
      // Phase 2: cheap checks first, then the bank (never inside a transaction).
      const verdict = campaignAccepts(await readCampaign(db, cmd.campaignId), cmd.body.currency);
      if (!verdict.ok) {
        // The read model follows campaign events within milliseconds; a miss may be that lag, so it
        // is not stored: the key is released and the same request may succeed a moment later.
        if (verdict.reason === "unknown") {
          await releaseKey(scope, key, lockId);
          throw notFound(`Campaign ${cmd.campaignId} does not exist`);
        }
        return await settle(
          () => storeRejection(scope, key, lockId, verdictProblem(verdict)),
          scope,
          key,
          hash,
          sealMaterial,
        );
      }
      const outcome = await verifier.grant(plan.source);
      if (outcome.kind === "unavailable") {
        await releaseKey(scope, key, lockId);
        throw serviceUnavailable("The bank did not answer; retry with the same Idempotency-Key");
      }
      if (outcome.kind === "refused") {
        const refusal = paymentRequired(
          "The bank refused this source: wrong account secret, unknown account or not yours",
        );
        return await settle(() => storeRejection(scope, key, lockId, refusal), scope, key, hash, sealMaterial);
      }

      // Phase 3: one transaction for the pledge, its event and the key's answer.
      const result = await settle(
        () =>
          db.transaction((tx) =>
            writePledge(tx, { cmd, plan, scope, key, lockId, grant: outcome.grant, sealMaterial }),
          ),
        scope,
        key,
        hash,
        sealMaterial,
      );
      if ("rejected" in result) throw result.rejected;
      if (!("created" in result)) return result;
      onCommitted?.();
      log.info({ pledgeId: result.created.body.id, campaignId: cmd.campaignId }, "pledge.created");
      return result.created;
    } catch (err) {
      // Nothing committed for this key (or it is already done): free it so the client may retry.
      // The delete only matches our own in-flight row, so a committed answer is never lost.
      await releaseKey(scope, key, lockId).catch((e) => log.error({ err: e }, "idempotency.release_failed"));
      throw err;
    }
  }

  interface PledgeWrite {
    cmd: CreatePledgeCommand;
    plan: ReturnType<typeof planCreate>;
    scope: string;
    key: string;
    lockId: string;
    grant: string;
    sealMaterial: string;
  }

  /**
   * Phase 3, inside one transaction: the pledge (pending), its first history entry, pledge.created
   * with the bank's grant, and the key's stored answer (invariants 1 and 5). A stored rejection is
   * returned, not thrown, so that it commits.
   */
  async function writePledge(
    tx: PledgeTx,
    { cmd, plan, scope, key, lockId, grant, sealMaterial }: PledgeWrite,
  ): Promise<{ created: CreatePledgeResult } | { rejected: StoredProblem }> {
    await assertOwnsKey(tx, scope, key, lockId);
    // Re-checked under a share lock: the campaign may have closed during the bank call.
    const recheck = campaignAccepts(await readCampaign(tx, cmd.campaignId, true), cmd.body.currency);
    if (!recheck.ok) return { rejected: await storeRejectionIn(tx, scope, key, lockId, verdictProblem(recheck)) };

    const now = clock.date();
    const id = Bun.randomUUIDv7();
    const receiptToken = plan.donorId === null ? newReceiptToken() : null;
    const [row] = await tx
      .insert(pledges)
      .values({
        id,
        campaignId: cmd.campaignId,
        donorId: plan.donorId,
        donorKey: plan.identity.donorKey,
        donorName: plan.donorName,
        guestEmail: plan.guestEmail,
        amountMinor: cmd.body.amountMinor,
        currency: cmd.body.currency,
        status: "pending",
        anonymous: cmd.body.anonymous ?? false,
        message: cmd.body.message ?? null,
        failureReason: null,
        sourceAccountId: plan.source.accountId,
        receiptTokenHash: receiptToken ? hashReceiptToken(receiptToken) : null,
        createdAt: now,
        updatedAt: now,
        version: 1,
      })
      .returning();
    const [history] = await tx
      .insert(pledgeHistory)
      .values({ pledgeId: id, seq: 1, status: "pending", at: now })
      .returning();
    const created: PledgeCreated = {
      pledgeId: id,
      campaignId: cmd.campaignId,
      donorId: plan.donorId,
      amountMinor: cmd.body.amountMinor,
      currency: cmd.body.currency,
      source: { bankAccountId: plan.source.accountId, grant },
      createdAt: now.toISOString(),
    };
    await enqueue(tx, outbox, newEvent(PledgeCreated.type, id, created, clock));
    const pledge = toPledge(row!, [history!]);
    await tx
      .update(idempotencyKeys)
      .set({
        state: "done",
        responseStatus: 202,
        responseBody: pledge,
        sealedReceiptToken: receiptToken ? sealReceiptToken(receiptToken, sealMaterial) : null,
        pledgeId: id,
      })
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
    return { created: { body: receiptToken ? { ...pledge, receiptToken } : pledge, replayed: false } };
  }

  type Claim = { kind: "owned"; lockId: string } | { kind: "existing"; row: IdempotencyRow };

  async function claimKey(scope: string, key: string, hash: string): Promise<Claim> {
    const now = clock.date();
    const staleBefore = new Date(now.getTime() - lockMs);
    for (let attempt = 0; attempt < 3; attempt++) {
      const lockId = Bun.randomUUIDv7();
      // The primary key decides races. An existing row is only taken over when it has expired, or
      // when it is the same request left in flight by a process that died (older than the lock).
      const [claimed] = await db
        .insert(idempotencyKeys)
        .values({
          scope,
          key,
          requestHash: hash,
          state: "in_flight",
          lockId,
          lockedAt: now,
          createdAt: now,
          expiresAt: new Date(now.getTime() + ttlMs),
        })
        .onConflictDoUpdate({
          target: [idempotencyKeys.scope, idempotencyKeys.key],
          set: {
            requestHash: sql`excluded.request_hash`,
            state: "in_flight",
            lockId: sql`excluded.lock_id`,
            lockedAt: sql`excluded.locked_at`,
            responseStatus: null,
            responseBody: null,
            sealedReceiptToken: null,
            pledgeId: null,
            createdAt: sql`excluded.created_at`,
            expiresAt: sql`excluded.expires_at`,
          },
          setWhere: sql`${idempotencyKeys.expiresAt} <= ${now.toISOString()}::timestamptz
            or (${idempotencyKeys.state} = 'in_flight' and ${idempotencyKeys.lockedAt} <= ${staleBefore.toISOString()}::timestamptz
                and ${idempotencyKeys.requestHash} = excluded.request_hash)`,
        })
        .returning({ lockId: idempotencyKeys.lockId });
      if (claimed?.lockId === lockId) return { kind: "owned", lockId };
      const [existing] = await db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
      // Released (503) between our insert and this read: claim again.
      if (!existing) continue;
      return { kind: "existing", row: existing };
    }
    throw inFlight();
  }

  const inFlight = () =>
    conflict("A request with this Idempotency-Key is still being processed; retry shortly", "idempotency-in-flight");

  /** The stored answer for an existing key, or 422 / 409 when it is another request or not finished. */
  async function replay(row: IdempotencyRow, hash: string, sealMaterial: string): Promise<CreatePledgeResult> {
    const verdict = judgeExistingKey(row, hash);
    if (verdict === "mismatch")
      throw unprocessable(
        "This Idempotency-Key was already used with a different request; use a new key",
        "idempotency-key-reused",
      );
    if (verdict === "in-flight") throw inFlight();
    onReplay?.();
    const body = row.responseBody as Record<string, unknown>;
    if (row.responseStatus !== 202) throw new StoredProblem(body as unknown as ProblemDetails, true);
    const pledge = orderedPledge(body as unknown as PledgeModel.Pledge);
    const token = row.sealedReceiptToken ? openReceiptToken(row.sealedReceiptToken, sealMaterial) : null;
    return { body: token ? { ...pledge, receiptToken: token } : pledge, replayed: true };
  }

  /**
   * Runs a phase-3 write. If a retry took our key over meanwhile, our transaction rolled back:
   * answer what the key holds now (the other request's stored answer, or 409 while it runs).
   */
  async function settle<T>(
    write: () => Promise<T>,
    scope: string,
    key: string,
    hash: string,
    sealMaterial: string,
  ): Promise<T | CreatePledgeResult> {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof LostKey)) throw err;
      const [row] = await db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
      if (row && row.state === "done" && row.requestHash === hash) return replay(row, hash, sealMaterial);
      throw inFlight();
    }
  }

  async function assertOwnsKey(tx: PledgeTx, scope: string, key: string, lockId: string) {
    const [row] = await tx
      .select({ state: idempotencyKeys.state, lockId: idempotencyKeys.lockId })
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
      .for("update");
    if (!row || row.state !== "in_flight" || row.lockId !== lockId) throw new LostKey();
  }

  /** Stores a business rejection as the key's answer and returns the error to throw. */
  async function storeRejectionIn(tx: PledgeTx, scope: string, key: string, lockId: string, error: AppError) {
    const problem = error.toProblem();
    await tx
      .update(idempotencyKeys)
      .set({ state: "done", responseStatus: problem.status, responseBody: problem })
      .where(
        and(
          eq(idempotencyKeys.scope, scope),
          eq(idempotencyKeys.key, key),
          eq(idempotencyKeys.lockId, lockId),
          eq(idempotencyKeys.state, "in_flight"),
        ),
      );
    return new StoredProblem(problem, false);
  }

  async function storeRejection(scope: string, key: string, lockId: string, error: AppError): Promise<never> {
    const stored = await db.transaction(async (tx) => {
      await assertOwnsKey(tx, scope, key, lockId);
      return storeRejectionIn(tx, scope, key, lockId, error);
    });
    throw stored;
  }

  async function releaseKey(scope: string, key: string, lockId: string) {
    await db
      .delete(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.scope, scope),
          eq(idempotencyKeys.key, key),
          eq(idempotencyKeys.lockId, lockId),
          eq(idempotencyKeys.state, "in_flight"),
        ),
      );
  }

  async function readCampaign(executor: PledgeDb | PledgeTx, id: string, lock = false) {
    const query = executor
      .select({ status: campaigns.status, currency: campaigns.currency })
      .from(campaigns)
      .where(eq(campaigns.id, id));
    const [row] = lock ? await query.for("share") : await query;
    return row;
  }

  // ── reads ───────────────────────────────────────────────────────────────────────────────

  const pledgeNotFound = (id: string) => notFound(`Pledge ${id} does not exist`);

  /** Its donor, an admin, or the holder of its receipt token; anyone else learns nothing (404). */
  async function get(id: string, viewer: Principal | null, receiptToken: string | undefined) {
    const [row] = await db.select().from(pledges).where(eq(pledges.id, id));
    const allowed =
      row &&
      (viewer?.role === "admin" ||
        (viewer !== null && row.donorId === viewer.id) ||
        (receiptToken !== undefined && receiptTokenMatches(receiptToken, row.receiptTokenHash)));
    if (!row || !allowed) throw pledgeNotFound(id);
    const [pledge] = await pledgesWithHistory(db, [row]);
    return pledge!;
  }

  async function listPage(conditions: SQL[], query: { limit?: number | undefined; cursor?: string | undefined }) {
    const limit = query.limit ?? 20;
    const after = decodeListCursor(query.cursor);
    if (after) conditions.push(lt(pledges.id, after));
    const rows = await db
      .select()
      .from(pledges)
      .where(and(...conditions))
      .orderBy(desc(pledges.id))
      .limit(limit + 1);
    const { page, nextCursor } = pageOf(rows, limit);
    return { items: await pledgesWithHistory(db, page), nextCursor };
  }

  /** The signed-in donor's own pledges, newest first. */
  function listMine(viewer: Principal, query: PledgeModel.MyPledgesQuery): Promise<PledgeModel.PledgePage> {
    if (!UUID.test(viewer.id)) return Promise.resolve({ items: [], nextCursor: null });
    return listPage([eq(pledges.donorId, viewer.id)], query);
  }

  function listAll(query: PledgeModel.AdminListQuery): Promise<PledgeModel.PledgePage> {
    return listPage(query.status ? [eq(pledges.status, query.status)] : [], query);
  }

  /** Captured pledges of one campaign (oldest first), for the campaign service's read-model rebuild. */
  async function listCaptured(
    campaignId: string,
    query: { limit?: number | undefined; cursor?: string | undefined },
  ): Promise<PledgeModel.CapturedPage> {
    const limit = query.limit ?? 20;
    const after = decodeListCursor(query.cursor);
    const rows = await db
      .select()
      .from(pledges)
      .where(
        and(
          eq(pledges.campaignId, campaignId),
          eq(pledges.status, "captured"),
          ...(after ? [gt(pledges.id, after)] : []),
        ),
      )
      .orderBy(asc(pledges.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const capturedAt = new Map<string, Date>();
    if (page.length > 0) {
      const steps = await db
        .select({ pledgeId: pledgeHistory.pledgeId, at: pledgeHistory.at })
        .from(pledgeHistory)
        .where(
          and(
            inArray(
              pledgeHistory.pledgeId,
              page.map((r) => r.id),
            ),
            eq(pledgeHistory.status, "captured"),
          ),
        );
      for (const s of steps) capturedAt.set(s.pledgeId, s.at);
    }
    const last = page.at(-1);
    return {
      items: page.map((r) => ({
        pledgeId: r.id,
        campaignId: r.campaignId,
        donorKey: r.donorKey,
        donorName: r.donorName,
        anonymous: r.anonymous,
        message: r.message,
        amountMinor: r.amountMinor,
        currency: r.currency,
        capturedAt: (capturedAt.get(r.id) ?? r.updatedAt).toISOString(),
      })),
      nextCursor: rows.length > limit && last ? encodeListCursor(last.id) : null,
    };
  }

  /** The audit's view of pledges: captured money per campaign and pledges stuck past the grace period. */
  async function ledger(): Promise<PledgeModel.Ledger> {
    const now = clock.date();
    const rows = await db
      .select({
        campaignId: pledges.campaignId,
        sum: sql<string>`coalesce(sum(${pledges.amountMinor}) filter (where ${pledges.status} = 'captured'), 0)::bigint`,
        count: sql<number>`(count(*) filter (where ${pledges.status} = 'captured'))::int`,
      })
      .from(pledges)
      .where(inArray(pledges.status, ["captured", "refunded"]))
      .groupBy(pledges.campaignId)
      .orderBy(asc(pledges.campaignId));
    const stuckBefore = new Date(now.getTime() - config.STUCK_AFTER_SECONDS * 1000);
    const [stuck] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(pledges)
      .where(and(inArray(pledges.status, OPEN_STATUSES), lte(pledges.createdAt, stuckBefore)));
    return {
      campaigns: rows.map((r) => ({
        campaignId: r.campaignId,
        capturedMinusRefundedMinor: Number(r.sum),
        capturedCount: r.count,
      })),
      stuckPledges: stuck?.n ?? 0,
      checkedAt: now.toISOString(),
    };
  }

  /** Pledges by status, for the /metrics gauge. */
  async function countByStatus(): Promise<Array<{ status: PledgeStatus; count: number }>> {
    return db
      .select({ status: pledges.status, count: sql<number>`count(*)::int` })
      .from(pledges)
      .groupBy(pledges.status);
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────

  /** Its donor cancels while pending or authorized (invariant 6: others get 404; admins 403). */
  async function cancel(viewer: Principal, id: string): Promise<PledgeModel.Pledge> {
    const result = await db.transaction(async (tx) => {
      const row = await lockPledge(tx, id);
      if (!row || (row.donorId !== viewer.id && viewer.role !== "admin")) throw pledgeNotFound(id);
      if (row.donorId !== viewer.id) throw forbidden("Only the donor may cancel a pledge");
      const decision = decide(row.status, { type: "cancel" });
      if (decision.kind !== "transition")
        throw conflict(decision.kind === "rejected" ? decision.why : "Not cancellable", "pledge-not-cancellable");
      const updated = await applyTransition(tx, row, decision, clock);
      const [pledge] = await pledgesWithHistory(tx, [updated]);
      return pledge!;
    });
    onCommitted?.();
    return result;
  }

  /** An admin asks for a refund of a captured pledge; asking again while it is pending changes nothing. */
  async function requestRefund(id: string): Promise<PledgeModel.Pledge> {
    let emitted = false;
    const result = await db.transaction(async (tx) => {
      const row = await lockPledge(tx, id);
      if (!row) throw pledgeNotFound(id);
      const decision = decide(row.status, { type: "refund-request" });
      if (decision.kind !== "accepted")
        throw conflict(decision.kind === "rejected" ? decision.why : "Not refundable", "pledge-not-refundable");
      let current = row;
      if (!row.refundRequestedAt) {
        const now = clock.date();
        const [updated] = await tx
          .update(pledges)
          .set({ refundRequestedAt: now, updatedAt: now, version: row.version + 1 })
          .where(eq(pledges.id, id))
          .returning();
        current = updated!;
        await enqueue(tx, outbox, [
          newEvent("pledge.refund_requested", id, pledgeChange(current, current.status, now), clock),
        ]);
        emitted = true;
      }
      const [pledge] = await pledgesWithHistory(tx, [current]);
      return pledge!;
    });
    if (emitted) onCommitted?.();
    return result;
  }

  /** Deletes keys past their retention (the contract keeps them at least 24 hours). */
  async function pruneIdempotencyKeys(limit = 1000): Promise<number> {
    // Raw SQL: drizzle's delete has no LIMIT; batches keep each delete short.
    const rows = await db.execute(sql`
      delete from ${idempotencyKeys} where ctid in (
        select ctid from ${idempotencyKeys} where ${idempotencyKeys.expiresAt} <= ${clock.date().toISOString()}::timestamptz limit ${limit}
      ) returning 1`);
    return (rows as unknown as unknown[]).length;
  }

  return {
    create,
    get,
    listMine,
    listAll,
    listCaptured,
    ledger,
    countByStatus,
    cancel,
    requestRefund,
    pruneIdempotencyKeys,
  };
}

export type PledgeService = ReturnType<typeof createPledgeService>;
