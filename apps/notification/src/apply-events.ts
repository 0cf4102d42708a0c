// Applies a batch of events in ONE transaction with a handful of set-based statements, then
// pushes what it announces once that transaction has committed.
//
// Phases (each skipped when it has nothing to do):
//   1. inbox      every event id; only first-seen events change anything (invariant 5)
//   2. campaigns  lock the batch's campaigns, upsert the newest snapshots (older ones never win),
//                 campaign.totals frames; goal_reached for admins and the owner (once per campaign)
//   3. pledges    lock the batch's pledges, upsert their furthest state, pledge.status frames for
//                 the changes that move a pledge forward; the donor's stored notifications
//   4. audits     the drift rule over the last audit kept in audit_state (audit.drift once)
//   5. webhooks   one webhook.signature_failures per event
// Then, after commit: the frames, then a notification frame per row this batch inserted. A
// redelivered event finds its inbox row and changes nothing, so it pushes nothing again — except
// a campaign's latest totals snapshot (see planCampaigns): a frame lost to a crash between commit
// and push is sent again, never an older one. One process handles one batch at a time
// (events-consumer.ts), so its pushes follow the stored versions; two replicas each push only what
// advanced the version under the row lock, but their pushes race after commit: rarely, an older
// frame can land milliseconds after a newer one from the other replica (the next snapshot, or the
// follower's reload, corrects it).
import type { EventEnvelope } from "@careforall/bus";
import {
  AuditCompleted,
  CampaignClosed,
  CampaignCreated,
  type CampaignSnapshot,
  CampaignTotalsChanged,
  CampaignUpdated,
  PledgeAuthorized,
  PledgeCancelled,
  PledgeCaptured,
  PledgeCreated,
  PledgeExpired,
  PledgeFailed,
  PledgeRefunded,
  type PledgeStatus,
  WebhookSignatureFailures,
} from "@careforall/events";
import type { Logger } from "@careforall/log";
import { recordInboxMany } from "@careforall/outbox";
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { asc, inArray, type SQL, sql } from "drizzle-orm";
import { auditState, campaigns, inbox, type NotificationRow, pledges } from "./db/schema";
import {
  ADMINS,
  type AuditDriftState,
  type CampaignEventType,
  donorText,
  driftText,
  goalReachedText,
  nextAuditState,
  notificationFrame,
  type PledgeEvent,
  type Push,
  planCampaigns,
  planPledges,
  recipientTopic,
  STATUS_RANK,
  type StoredCampaign,
  signatureFailuresText,
} from "./domain";
import type { NotificationMetrics, Pusher } from "./pushes";
import { type NewNotification, type NotificationDb, type NotificationTx, storeNotifications } from "./store";

export const EVENTS_CONSUMER = "notification-events";

const PLEDGE_EVENTS = [
  PledgeCreated,
  PledgeAuthorized,
  PledgeCaptured,
  PledgeFailed,
  PledgeCancelled,
  PledgeExpired,
  PledgeRefunded,
] as const;
const CAMPAIGN_EVENTS = [CampaignCreated, CampaignUpdated, CampaignClosed, CampaignTotalsChanged] as const;
const OPERATOR_EVENTS = [AuditCompleted, WebhookSignatureFailures] as const;

/** Every event type the consumer takes. */
export const CONSUMED_EVENTS: string[] = [...PLEDGE_EVENTS, ...CAMPAIGN_EVENTS, ...OPERATOR_EVENTS].map((d) => d.type);

/** Payload checks per type: a payload that does not fit its event is logged and skipped, never applied. */
const payloadChecks = new Map<string, { Check(value: unknown): boolean }>(
  [...PLEDGE_EVENTS, ...CAMPAIGN_EVENTS, ...OPERATOR_EVENTS].map((d) => [
    d.type,
    TypeCompiler.Compile(d.schema as TSchema),
  ]),
);

/** The projection's forward order in SQL (STATUS_RANK), for the upsert that must never move back. */
const rankSql = (column: SQL) =>
  sql`(case ${column} ${sql.join(
    Object.entries(STATUS_RANK).map(([status, rank]) => sql`when ${status} then ${sql.raw(String(rank))}`),
    sql` `,
  )} end)`;

export interface EventApplierDeps {
  db: NotificationDb;
  log: Logger;
  push: Pusher;
  metrics: NotificationMetrics;
}

export interface BatchSummary {
  events: number;
  fresh: number;
  stored: number;
  pushes: number;
}

type Staged = { pushes: Push[]; notices: NewNotification[] };

export function createEventApplier({ db, log, push, metrics }: EventApplierDeps) {
  async function applyCampaigns(
    tx: NotificationTx,
    fresh: Array<{ type: CampaignEventType; snapshot: CampaignSnapshot }>,
    redeliveredTotals: CampaignSnapshot[],
    staged: Staged,
  ): Promise<void> {
    const ids = [...new Set([...fresh.map((f) => f.snapshot.id), ...redeliveredTotals.map((s) => s.id)])].sort();
    if (ids.length === 0) return;
    // Row locks in id order: a racing batch on the same campaigns waits, never deadlocks, and the
    // version read here is the one this batch's pushes are judged against.
    const before = await tx
      .select({
        id: campaigns.id,
        version: campaigns.version,
        raisedMinor: campaigns.raisedMinor,
        donorCount: campaigns.donorCount,
        pledgeCount: campaigns.pledgeCount,
      })
      .from(campaigns)
      .where(inArray(campaigns.id, ids))
      .orderBy(asc(campaigns.id))
      .for("update");
    const stored = new Map<string, StoredCampaign>(before.map((c) => [c.id, c]));
    const plan = planCampaigns(stored, fresh, redeliveredTotals);
    if (plan.upserts.length > 0) {
      const excluded = (column: string) => sql.raw(`excluded.${column}`);
      await tx
        .insert(campaigns)
        .values(
          plan.upserts
            .map((s) => ({
              id: s.id,
              ownerId: s.ownerId,
              title: s.title,
              goalMinor: s.goalMinor,
              currency: s.currency,
              status: s.status,
              raisedMinor: s.raisedMinor,
              donorCount: s.donorCount,
              pledgeCount: s.pledgeCount,
              version: s.version,
            }))
            .sort((a, b) => (a.id < b.id ? -1 : 1)),
        )
        .onConflictDoUpdate({
          target: campaigns.id,
          set: {
            ownerId: excluded("owner_id"),
            title: excluded("title"),
            goalMinor: excluded("goal_minor"),
            currency: excluded("currency"),
            status: excluded("status"),
            raisedMinor: excluded("raised_minor"),
            donorCount: excluded("donor_count"),
            pledgeCount: excluded("pledge_count"),
            version: excluded("version"),
          },
          // A campaign first seen by a racing batch: still only a newer snapshot replaces it.
          setWhere: sql`excluded.version > ${campaigns.version}`,
        });
    }
    staged.pushes.push(...plan.pushes);
    for (const s of plan.goalsReached) {
      const text = goalReachedText(s);
      const notice = { kind: "campaign.goal_reached" as const, subject: s.id, campaignId: s.id, pledgeId: null };
      const at = new Date(s.updatedAt);
      staged.notices.push(
        { ...notice, ...text, recipient: ADMINS, at },
        { ...notice, ...text, recipient: s.ownerId, at },
      );
    }
  }

  async function applyPledges(tx: NotificationTx, events: PledgeEvent[], staged: Staged): Promise<void> {
    if (events.length === 0) return;
    const ids = [...new Set(events.map((e) => e.data.pledgeId))].sort();
    const before = await tx
      .select({ id: pledges.id, status: pledges.status })
      .from(pledges)
      .where(inArray(pledges.id, ids))
      .orderBy(asc(pledges.id))
      .for("update");
    const plan = planPledges(new Map(before.map((p) => [p.id, p.status as PledgeStatus])), events);
    // drizzle cannot say "keep the further of the two states"; the CASE is STATUS_RANK in SQL.
    await tx
      .insert(pledges)
      .values(
        plan.rows
          .map((r) => ({ ...r, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) }))
          .sort((a, b) => (a.id < b.id ? -1 : 1)),
      )
      .onConflictDoUpdate({
        target: pledges.id,
        set: {
          status: sql`case when ${rankSql(sql.raw("excluded.status"))} > ${rankSql(sql`${pledges.status}`)}
            then excluded.status else ${pledges.status} end`,
          donorId: sql`coalesce(${pledges.donorId}, excluded.donor_id)`,
          createdAt: sql`least(${pledges.createdAt}, excluded.created_at)`,
          updatedAt: sql`greatest(${pledges.updatedAt}, excluded.updated_at)`,
        },
      });
    staged.pushes.push(...plan.pushes);
    if (plan.donorNotices.length === 0) return;
    const campaignIds = [...new Set(plan.donorNotices.map((p) => p.campaignId))];
    const titles = new Map(
      (
        await tx
          .select({ id: campaigns.id, title: campaigns.title })
          .from(campaigns)
          .where(inArray(campaigns.id, campaignIds))
      ).map((c) => [c.id, c.title]),
    );
    for (const p of plan.donorNotices) {
      const status = p.status as "captured" | "failed" | "refunded";
      staged.notices.push({
        recipient: p.donorId!,
        kind: `pledge.${status}`,
        subject: p.pledgeId,
        ...donorText({
          status,
          amountMinor: p.amountMinor,
          currency: p.currency,
          campaignTitle: titles.get(p.campaignId.toLowerCase()) ?? null,
          failureReason: p.failureReason,
        }),
        pledgeId: p.pledgeId,
        campaignId: p.campaignId,
        at: new Date(p.at),
      });
    }
  }

  async function applyAudits(tx: NotificationTx, events: EventEnvelope<AuditCompleted>[], staged: Staged) {
    if (events.length === 0) return;
    const [row] = await tx.select().from(auditState).for("update");
    let state: AuditDriftState | null = row
      ? { lastDriftMinor: row.lastDriftMinor, lastCheckedAt: row.lastCheckedAt.toISOString(), alerted: row.alerted }
      : null;
    let changed = false;
    // In the order they were checked: "two consecutive audits" is about audit order, not arrival.
    const ordered = [...events].sort((a, b) => Date.parse(a.data.checkedAt) - Date.parse(b.data.checkedAt));
    for (const e of ordered) {
      const decision = nextAuditState(state, e.data);
      if (decision.kind === "stale") continue;
      state = decision.state;
      changed = true;
      if (!decision.alert) continue;
      staged.notices.push({
        recipient: ADMINS,
        kind: "audit.drift",
        subject: e.id,
        ...driftText({
          totalDriftMinor: e.data.totalDriftMinor,
          campaigns: e.data.drifting.length,
          checkedAt: e.data.checkedAt,
        }),
        pledgeId: null,
        campaignId: null,
        at: new Date(e.data.checkedAt),
      });
    }
    if (!changed || !state) return;
    const values = {
      lastDriftMinor: state.lastDriftMinor,
      lastCheckedAt: new Date(state.lastCheckedAt),
      alerted: state.alerted,
    };
    await tx
      .insert(auditState)
      .values({ id: 1, ...values })
      .onConflictDoUpdate({ target: auditState.id, set: values });
  }

  function applySignatureFailures(events: EventEnvelope<WebhookSignatureFailures>[], staged: Staged) {
    for (const e of events) {
      staged.notices.push({
        recipient: ADMINS,
        kind: "webhook.signature_failures",
        subject: e.id,
        ...signatureFailuresText(e.data),
        pledgeId: null,
        campaignId: null,
        at: new Date(e.data.lastAt),
      });
    }
  }

  /** Applies a batch (duplicates inside it count once) and pushes what it committed. */
  return async function applyEvents(events: readonly EventEnvelope[]): Promise<BatchSummary> {
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    const summary: BatchSummary = { events: events.length, fresh: 0, stored: 0, pushes: 0 };
    if (unique.length === 0) return summary;
    const { pushes, stored } = await db.transaction(async (tx) => {
      const fresh = await recordInboxMany(
        tx,
        inbox,
        EVENTS_CONSUMER,
        unique.map((e) => e.id),
      );
      summary.fresh = fresh.size;
      const staged: Staged = { pushes: [], notices: [] };
      const valid = unique.filter((e) => {
        if (payloadChecks.get(e.type)?.Check(e.data)) return true;
        log.warn({ eventId: e.id, type: e.type }, "notification.event_malformed");
        return false;
      });
      const isFresh = (e: EventEnvelope) => fresh.has(e.id);
      const ofTypes = (types: readonly { type: string }[]) => {
        const wanted = new Set(types.map((t) => t.type));
        return valid.filter((e) => isFresh(e) && wanted.has(e.type));
      };

      await applyCampaigns(
        tx,
        ofTypes(CAMPAIGN_EVENTS).map((e) => ({
          type: e.type as CampaignEventType,
          snapshot: e.data as CampaignSnapshot,
        })),
        valid
          .filter((e) => !isFresh(e) && e.type === CampaignTotalsChanged.type)
          .map((e) => e.data as CampaignSnapshot),
        staged,
      );
      await applyPledges(
        tx,
        ofTypes(PLEDGE_EVENTS).map((e) => ({ type: e.type, data: e.data }) as PledgeEvent),
        staged,
      );
      await applyAudits(
        tx,
        ofTypes([AuditCompleted]).map((e) => e as EventEnvelope<AuditCompleted>),
        staged,
      );
      applySignatureFailures(
        ofTypes([WebhookSignatureFailures]).map((e) => e as EventEnvelope<WebhookSignatureFailures>),
        staged,
      );
      return { pushes: staged.pushes, stored: await storeNotifications(tx, staged.notices) };
    });
    // Committed: now (and only now) tell the live clients.
    publishStored(stored, metrics, push, pushes);
    summary.stored = stored.length;
    summary.pushes = pushes.length + stored.length;
    log.debug(summary, "notification.batch_applied");
    return summary;
  };
}

/** Counts the stored rows and pushes `before` then one notification frame per stored row. */
export function publishStored(
  stored: readonly NotificationRow[],
  metrics: NotificationMetrics,
  push: Pusher,
  before: readonly Push[] = [],
): void {
  for (const n of stored) metrics.stored.inc({ kind: n.kind });
  push([...before, ...stored.map((n) => ({ topic: recipientTopic(n.recipient), frame: notificationFrame(n) }))]);
}

export type EventApplier = ReturnType<typeof createEventApplier>;
