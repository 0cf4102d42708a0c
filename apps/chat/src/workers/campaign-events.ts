// Keeps chat's campaign directory from campaign.created / updated / closed (any of them proves the
// campaign exists; the stream replays them all to a new durable, so the directory is complete).
// A batch is one statement; an event that is not a campaign snapshot is logged and skipped.
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { CampaignClosed, CampaignCreated, CampaignSnapshot, CampaignUpdated } from "@careforall/events";
import { isUuid } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { Value } from "@sinclair/typebox/value";
import { rememberCampaigns } from "../campaign-directory";
import type { ChatDb } from "../message-store";

export const CAMPAIGN_CONSUMER = "chat-campaigns";
const CAMPAIGN_TYPES: readonly string[] = [CampaignCreated.type, CampaignUpdated.type, CampaignClosed.type];

export interface CampaignEventsDeps {
  db: ChatDb;
  clock: Clock;
  log: Logger;
}

/** Applies a batch of campaign events; returns how many campaigns were new to the directory. */
export function createCampaignEventsHandler({ db, clock, log }: CampaignEventsDeps) {
  return async function handleCampaignEvents(events: readonly EventEnvelope[]): Promise<number> {
    const ids: string[] = [];
    for (const event of events) {
      if (CAMPAIGN_TYPES.includes(event.type) && Value.Check(CampaignSnapshot, event.data) && isUuid(event.data.id)) {
        ids.push(event.data.id.toLowerCase());
      } else {
        log.error({ eventId: event.id, eventType: event.type }, "chat.campaign_event_malformed");
      }
    }
    return rememberCampaigns(db, clock, ids);
  };
}

export function startCampaignConsumer(bus: Bus, deps: CampaignEventsDeps): Promise<Subscription> {
  const handle = createCampaignEventsHandler(deps);
  return bus.subscribeBatch({
    durable: CAMPAIGN_CONSUMER,
    types: [...CAMPAIGN_TYPES],
    handleBatch: async (items) => {
      await handle(items.map((item) => item.event));
    },
  });
}
