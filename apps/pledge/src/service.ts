// Pledge use cases, free of HTTP: creating a pledge (create-pledge.ts, over the Idempotency-Key
// store), the reads (queries.ts), and the donor's and admin's commands — cancel and refund —, each
// one transaction that changes the pledge through its state machine and emits its event.
import type { Clock } from "@careforall/config";
import { conflict, dependencyBreaker, forbidden, type Principal } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent } from "@careforall/outbox";
import { classifyUnavailable } from "@careforall/resilience";
import { eq } from "drizzle-orm";
import type { SourceVerifier } from "./bank-client";
import type { PledgeConfig } from "./config";
import { createPledgeCreator } from "./create-pledge";
import { outbox, pledges } from "./db/schema";
import { decide } from "./domain";
import { createKeyStore } from "./idempotency-store";
import type { PledgeModel } from "./model";
import { applyTransition, lockPledge, type PledgeDb, pledgeChange, pledgesWithHistory } from "./pledge-store";
import { createPledgeQueries, pledgeNotFound } from "./queries";

export type { CreatePledgeCommand } from "./create-pledge";
export type { CreatePledgeResult } from "./idempotency-store";
export { StoredProblem } from "./idempotency-store";
export type { PledgeDb } from "./pledge-store";

/** The settings the pledge service reads. */
export type PledgeServiceConfig = Pick<
  PledgeConfig,
  | "IDEMPOTENCY_TTL_HOURS"
  | "IDEMPOTENCY_LOCK_SECONDS"
  | "BANK_TIMEOUT_MS"
  | "STUCK_AFTER_SECONDS"
  | "ACCEPT_BATCH_CONCURRENCY"
  | "ACCEPT_BATCH_MAX"
  | "ACCEPT_DEADLINE_MS"
  | "DATABASE_RETRY_MS"
  | "DONOR_KEY_SECRET"
>;

export interface PledgeServiceDeps {
  db: PledgeDb;
  verifier: SourceVerifier;
  clock: Clock;
  log: Logger;
  config: PledgeServiceConfig;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
  /** Called for every answer replayed from a stored Idempotency-Key (metrics). */
  onReplay?: (() => void) | undefined;
  /** Called with the size of every accept batch sent (metrics). */
  onAcceptBatch?: ((size: number) => void) | undefined;
}

/** Accepts in a row that fail for want of PostgreSQL before the rest are refused at once. */
const DATABASE_BREAKER_FAILURES = 3;

export function createPledgeService(deps: PledgeServiceDeps) {
  const { db, verifier, clock, log, config, onCommitted, onReplay, onAcceptBatch } = deps;
  const keys = createKeyStore({
    db,
    clock,
    ttlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    // A request that holds a key longer than this is presumed dead (its process was killed). The
    // bank call alone may take BANK_TIMEOUT_MS, so the lock always outlasts it with room to spare.
    lockMs: Math.max(config.IDEMPOTENCY_LOCK_SECONDS * 1000, config.BANK_TIMEOUT_MS + 30_000),
    onReplay,
    batching: {
      concurrency: config.ACCEPT_BATCH_CONCURRENCY,
      maxBatch: config.ACCEPT_BATCH_MAX,
      deadlineMs: config.ACCEPT_DEADLINE_MS,
    },
    // PostgreSQL unreachable or hung: after a few failed accepts, the next are refused at once.
    breaker: dependencyBreaker("postgres", log, {
      openMs: config.DATABASE_RETRY_MS,
      failureThreshold: DATABASE_BREAKER_FAILURES,
      isFailure: (err) => classifyUnavailable(err) !== null,
    }),
    onAcceptBatch,
  });
  const create = createPledgeCreator({
    keys,
    verifier,
    clock,
    log,
    onCommitted,
    donorKeySecret: config.DONOR_KEY_SECRET,
  });
  const queries = createPledgeQueries({ db, clock, config });

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

  return {
    create,
    ...queries,
    cancel,
    requestRefund,
    /** Deletes keys past their retention (the contract keeps them at least 24 hours). */
    pruneIdempotencyKeys: (limit?: number) => keys.prune(limit),
  };
}

export type PledgeService = ReturnType<typeof createPledgeService>;
