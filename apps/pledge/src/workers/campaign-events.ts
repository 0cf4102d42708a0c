// Maintains the campaign read model (status, currency, end time, version) from
// campaign.created/updated/closed: the only campaign facts pledge needs, never read from the
// campaign service's tables. A snapshot only replaces an older version, so reordered or duplicate
// events never roll it back.
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { CampaignClosed, CampaignCreated, CampaignSnapshot, CampaignUpdated } from "@careforall/events";
import type { Logger } from "@careforall/log";
import { recordInbox } from "@careforall/outbox";
import { Value } from "@sinclair/typebox/value";
import { sql } from "drizzle-orm";
import { campaigns, inbox } from "../db/schema";
import type { PledgeDb } from "../pledge-store";

export const CAMPAIGN_CONSUMER = "pledge-campaigns";

export interface CampaignEventsDeps {
  db: PledgeDb;
  clock: Clock;
  log: Logger;
}

export type CampaignEventOutcome = "applied" | "stale" | "duplicate" | "malformed";

const CAMPAIGN_TYPES: readonly string[] = [CampaignCreated.type, CampaignUpdated.type, CampaignClosed.type];

/** The snapshot's end time as a Date, null when open-ended; undefined when it is not a valid instant. */
function instantOrNull(value: string | null): Date | null | undefined {
  if (value === null) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function createCampaignEventHandler({ db, clock, log }: CampaignEventsDeps) {
  return async function handleCampaignEvent(event: EventEnvelope): Promise<CampaignEventOutcome> {
    const known = CAMPAIGN_TYPES.includes(event.type);
    const endsAt = known && Value.Check(CampaignSnapshot, event.data) ? instantOrNull(event.data.endsAt) : undefined;
    if (endsAt === undefined) {
      log.error({ eventId: event.id, eventType: event.type }, "pledge.campaign_event_malformed");
      return "malformed";
    }
    const snapshot = event.data as CampaignSnapshot;
    return db.transaction(async (tx): Promise<CampaignEventOutcome> => {
      if (!(await recordInbox(tx, inbox, CAMPAIGN_CONSUMER, event.id))) return "duplicate";
      const applied = await tx
        .insert(campaigns)
        .values({
          id: snapshot.id,
          status: snapshot.status,
          currency: snapshot.currency,
          endsAt,
          version: snapshot.version,
          updatedAt: clock.date(),
        })
        .onConflictDoUpdate({
          target: campaigns.id,
          set: {
            status: sql`excluded.status`,
            currency: sql`excluded.currency`,
            endsAt: sql`excluded.ends_at`,
            version: sql`excluded.version`,
            updatedAt: sql`excluded.updated_at`,
          },
          // Never older over newer.
          setWhere: sql`${campaigns.version} < excluded.version`,
        })
        .returning({ id: campaigns.id });
      return applied.length === 1 ? "applied" : "stale";
    });
  };
}

export function startCampaignConsumer(bus: Bus, deps: CampaignEventsDeps): Promise<Subscription> {
  const handle = createCampaignEventHandler(deps);
  return bus.subscribe({
    durable: CAMPAIGN_CONSUMER,
    types: [...CAMPAIGN_TYPES],
    handler: async (event) => {
      await handle(event);
    },
  });
}
