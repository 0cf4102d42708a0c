// Reading and changing pledge rows, shared by the HTTP use cases and the event consumers: the
// public Pledge JSON (in one fixed key order, so a stored answer replays byte for byte), and
// applying a state-machine decision — status, history and one outbox event per step commit
// together (invariant 5).

import type { Clock } from "@careforall/config";
import type { Database, Tx } from "@careforall/db";
import type { PledgeChange, PledgeChangeType } from "@careforall/events";
import { enqueue, newEvent } from "@careforall/outbox";
import { asc, eq, inArray, sql } from "drizzle-orm";
import {
  outbox,
  type PledgeDbSchema,
  type PledgeHistoryRow,
  type PledgeRow,
  pledgeHistory,
  pledges,
} from "./db/schema";
import type { Decision, PledgeStatus } from "./domain";
import type { PledgeModel } from "./model";

export type PledgeDb = Database<PledgeDbSchema>;
export type PledgeTx = Tx<PledgeDbSchema>;
export type PledgeExecutor = PledgeDb | PledgeTx;

type HistoryLike = Array<{ status: string; at: string }>;

/** The public Pledge with its keys in the contract's order, whatever order `p` has them in (jsonb reorders). */
export function orderedPledge(p: PledgeModel.Pledge): PledgeModel.Pledge {
  return {
    id: p.id,
    campaignId: p.campaignId,
    donorId: p.donorId,
    amountMinor: p.amountMinor,
    currency: p.currency,
    status: p.status,
    anonymous: p.anonymous,
    message: p.message,
    failureReason: p.failureReason,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    history: (p.history as HistoryLike).map((h) => ({ status: h.status as PledgeStatus, at: h.at })),
  };
}

export function toPledge(row: PledgeRow, history: PledgeHistoryRow[]): PledgeModel.Pledge {
  return orderedPledge({
    id: row.id,
    campaignId: row.campaignId,
    donorId: row.donorId,
    amountMinor: row.amountMinor,
    currency: row.currency,
    status: row.status,
    anonymous: row.anonymous,
    message: row.message,
    failureReason: row.failureReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    history: history.map((h) => ({ status: h.status, at: h.at.toISOString() })),
  });
}

/** History of many pledges in one query, each in order. */
export async function historiesOf(db: PledgeExecutor, ids: string[]): Promise<Map<string, PledgeHistoryRow[]>> {
  const byPledge = new Map<string, PledgeHistoryRow[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return byPledge;
  const rows = await db
    .select()
    .from(pledgeHistory)
    .where(inArray(pledgeHistory.pledgeId, ids))
    .orderBy(asc(pledgeHistory.pledgeId), asc(pledgeHistory.seq));
  for (const row of rows) byPledge.get(row.pledgeId)?.push(row);
  return byPledge;
}

export async function pledgesWithHistory(db: PledgeExecutor, rows: PledgeRow[]): Promise<PledgeModel.Pledge[]> {
  const histories = await historiesOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toPledge(r, histories.get(r.id) ?? []));
}

/** The PledgeChange payload every pledge.* event (after creation) carries. */
export function pledgeChange(row: PledgeRow, status: PledgeStatus, at: Date): PledgeChange {
  return {
    pledgeId: row.id,
    campaignId: row.campaignId,
    donorId: row.donorId,
    donorKey: row.donorKey,
    donorName: row.donorName,
    anonymous: row.anonymous,
    message: row.message,
    status,
    amountMinor: row.amountMinor,
    currency: row.currency,
    failureReason: status === "failed" ? row.failureReason : null,
    at: at.toISOString(),
  };
}

/** Locks one pledge for a read-decide-write inside `tx` (concurrent events and commands serialise on it). */
export async function lockPledge(tx: PledgeTx, id: string): Promise<PledgeRow | undefined> {
  const [row] = await tx.select().from(pledges).where(eq(pledges.id, id)).for("update");
  return row;
}

/**
 * Applies a transition to a locked pledge: new status (and failure reason), one history row and
 * one pledge.<status> outbox event per step, all in the caller's transaction. Returns the new row.
 */
export async function applyTransition(
  tx: PledgeTx,
  row: PledgeRow,
  decision: Extract<Decision, { kind: "transition" }>,
  clock: Clock,
): Promise<PledgeRow> {
  const at = clock.date();
  const [updated] = await tx
    .update(pledges)
    .set({
      status: decision.state,
      failureReason: decision.failureReason ?? row.failureReason,
      updatedAt: at,
      version: row.version + decision.steps.length,
    })
    .where(eq(pledges.id, row.id))
    .returning();
  const [last] = await tx
    .select({ seq: sql<number>`coalesce(max(${pledgeHistory.seq}), 0)::int` })
    .from(pledgeHistory)
    .where(eq(pledgeHistory.pledgeId, row.id));
  const first = (last?.seq ?? 0) + 1;
  await tx
    .insert(pledgeHistory)
    .values(decision.steps.map((status, i) => ({ pledgeId: row.id, seq: first + i, status, at })));
  // Built after the pledge's row lock, so their UUIDv7 ids (the relay's publish order) follow the lock order.
  await enqueue(
    tx,
    outbox,
    decision.steps.map((status) =>
      newEvent(`pledge.${status}` as PledgeChangeType, row.id, pledgeChange(updated!, status, at), clock),
    ),
  );
  return updated!;
}
