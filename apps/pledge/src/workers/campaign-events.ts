// Maintains the campaign read model (status, currency, version) from campaign.created/updated:
// the only campaign facts pledge needs, never read from the campaign service's tables. A snapshot
// only replaces an older version, so reordered or duplicate events never roll it back.
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { CampaignCreated, CampaignSnapshot, CampaignUpdated } from "@careforall/events";
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

export function createCampaignEventHandler({ db, clock, log }: CampaignEventsDeps) {
  return async function handleCampaignEvent(event: EventEnvelope): Promise<CampaignEventOutcome> {
    const known = event.type === CampaignCreated.type || event.type === CampaignUpdated.type;
    if (!known || !Value.Check(CampaignSnapshot, event.data)) {
      log.error({ eventId: event.id, eventType: event.type }, "pledge.campaign_event_malformed");
      return "malformed";
    }
    const snapshot = event.data;
    return db.transaction(async (tx): Promise<CampaignEventOutcome> => {
      if (!(await recordInbox(tx, inbox, CAMPAIGN_CONSUMER, event.id))) return "duplicate";
      const applied = await tx
        .insert(campaigns)
        .values({
          id: snapshot.id,
          status: snapshot.status,
          currency: snapshot.currency,
          version: snapshot.version,
          updatedAt: clock.date(),
        })
        .onConflictDoUpdate({
          target: campaigns.id,
          set: {
            status: sql`excluded.status`,
            currency: sql`excluded.currency`,
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
    types: [CampaignCreated.type, CampaignUpdated.type],
    handler: async (event) => {
      await handle(event);
    },
  });
}
