// Campaign use cases, free of HTTP. Every write and its outbox event commit in one transaction
// (invariant 5); concurrent writers to one campaign serialise on its row lock.
import type { Clock } from "@careforall/config";
import type { Database } from "@careforall/db";
import { CampaignClosed, CampaignCreated, type CampaignSnapshot, CampaignUpdated } from "@careforall/events";
import { notFound, type Principal, unauthorized } from "@careforall/http";
import { enqueue, newEvent } from "@careforall/outbox";
import { and, desc, eq, lt, type SQL, sql } from "drizzle-orm";
import { type CampaignDbSchema, type CampaignRow, campaigns, outbox } from "./db/schema";
import {
  authorizeUpdate,
  containsPattern,
  decideClose,
  decodeListCursor,
  encodeListCursor,
  validateEndsAt,
  validatePatch,
} from "./domain";
import type { CampaignModel } from "./model";

export type CampaignDb = Database<CampaignDbSchema>;
type Tx = Parameters<Parameters<CampaignDb["transaction"]>[0]>[0];

export interface CampaignServiceDeps {
  db: CampaignDb;
  clock: Clock;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The public Campaign (plus version), which is also the event snapshot. */
export function toCampaign(row: CampaignRow): CampaignSnapshot {
  return {
    id: row.id,
    ownerId: row.ownerId,
    title: row.title,
    description: row.description,
    goalMinor: row.goalMinor,
    currency: row.currency,
    status: row.status,
    raisedMinor: row.raisedMinor,
    donorCount: row.donorCount,
    pledgeCount: row.pledgeCount,
    endsAt: row.endsAt ? row.endsAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    version: row.version,
  };
}

/**
 * Closes the still-active campaigns `where` selects, inside the caller's transaction, each with its
 * campaign.closed event (invariant 5): the one close path, for an owner's or admin's close and for
 * the sweeper of ended campaigns alike. Returns the closed snapshots (none if already closed).
 */
export async function closeCampaigns(tx: Tx, clock: Clock, where: SQL): Promise<CampaignSnapshot[]> {
  const rows = await tx
    .update(campaigns)
    .set({ status: "closed", updatedAt: clock.date(), version: sql`${campaigns.version} + 1` })
    .where(and(where, eq(campaigns.status, "active")))
    .returning();
  const snapshots = rows.map(toCampaign);
  await enqueue(
    tx,
    outbox,
    snapshots.map((snapshot) => newEvent(CampaignClosed.type, snapshot.id, snapshot, clock)),
  );
  return snapshots;
}

export function createCampaignService({ db, clock, onCommitted }: CampaignServiceDeps) {
  const notFoundError = (id: string) => notFound(`Campaign ${id} does not exist`);

  async function create(actor: Principal, body: CampaignModel.CreateCampaignBody): Promise<CampaignSnapshot> {
    // owner_id is a uuid column; auth only issues UUIDv7 subjects, anything else is not one of ours.
    if (!UUID.test(actor.id)) throw unauthorized("The access token's subject is not a user id");
    const now = clock.date();
    const endsAt = body.endsAt === undefined ? null : validateEndsAt(body.endsAt, now);
    const campaign = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(campaigns)
        .values({
          id: Bun.randomUUIDv7(),
          ownerId: actor.id,
          title: body.title,
          description: body.description,
          goalMinor: body.goalMinor,
          currency: body.currency,
          status: "active",
          endsAt,
          createdAt: now,
          updatedAt: now,
          version: 1,
        })
        .returning();
      const snapshot = toCampaign(row!);
      await enqueue(tx, outbox, newEvent(CampaignCreated.type, snapshot.id, snapshot, clock));
      return snapshot;
    });
    onCommitted?.();
    return campaign;
  }

  async function update(
    actor: Principal,
    id: string,
    patch: CampaignModel.UpdateCampaignBody,
  ): Promise<CampaignSnapshot> {
    const changes = validatePatch(patch, clock.date());
    const campaign = await db.transaction(async (tx) => {
      // The row lock serialises concurrent writers, so each sees the previous version and bumps it.
      const [current] = await tx.select().from(campaigns).where(eq(campaigns.id, id)).for("update");
      if (!current) throw notFoundError(id);
      authorizeUpdate(actor, current, clock.date());
      const [row] = await tx
        .update(campaigns)
        .set({ ...changes, updatedAt: clock.date(), version: sql`${campaigns.version} + 1` })
        .where(eq(campaigns.id, id))
        .returning();
      const snapshot = toCampaign(row!);
      await enqueue(tx, outbox, newEvent(CampaignUpdated.type, id, snapshot, clock));
      return snapshot;
    });
    onCommitted?.();
    return campaign;
  }

  async function close(actor: Principal, id: string): Promise<CampaignSnapshot> {
    let changed = false;
    const campaign = await db.transaction(async (tx) => {
      const [current] = await tx.select().from(campaigns).where(eq(campaigns.id, id)).for("update");
      if (!current) throw notFoundError(id);
      if (decideClose(actor, current) === "already-closed") return toCampaign(current);
      const [snapshot] = await closeCampaigns(tx, clock, eq(campaigns.id, id));
      changed = true;
      return snapshot!;
    });
    if (changed) onCommitted?.();
    return campaign;
  }

  async function get(id: string): Promise<CampaignSnapshot> {
    const [row] = await db.select().from(campaigns).where(eq(campaigns.id, id)).limit(1);
    if (!row) throw notFoundError(id);
    return toCampaign(row);
  }

  /** Newest first (UUIDv7 ids are time-ordered), keyset-paginated; totals are read, never summed. */
  async function list(
    query: CampaignModel.ListCampaignsQuery & { ownerId?: string },
  ): Promise<CampaignModel.CampaignPage> {
    const limit = query.limit ?? 20;
    const after = decodeListCursor(query.cursor);
    const conditions: SQL[] = [];
    if (query.ownerId !== undefined) {
      // owner_id is a uuid column: a subject that is not a uuid owns nothing (and must not reach the query).
      if (!UUID.test(query.ownerId)) return { items: [], nextCursor: null };
      conditions.push(eq(campaigns.ownerId, query.ownerId));
    }
    if (query.status) conditions.push(eq(campaigns.status, query.status));
    // Raw SQL: drizzle has no LIKE … ESCAPE; lower(title) matches the trigram index expression.
    if (query.q) conditions.push(sql`lower(${campaigns.title}) like lower(${containsPattern(query.q)}) escape '\\'`);
    if (after) conditions.push(lt(campaigns.id, after));
    const rows = await db
      .select()
      .from(campaigns)
      .where(and(...conditions))
      .orderBy(desc(campaigns.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toCampaign),
      nextCursor: rows.length > limit && last ? encodeListCursor(last.id) : null,
    };
  }

  return { create, update, close, get, list };
}

export type CampaignService = ReturnType<typeof createCampaignService>;
