// Keeps this gateway's campaign snapshots fresh: every gateway process receives every
// campaign.* event (broadcast subscription) and applies the snapshot it carries.
import type { Bus, Subscription } from "@careforall/bus";
import {
  CampaignClosed,
  CampaignCreated,
  type CampaignEvent,
  CampaignTotalsChanged,
  CampaignUpdated,
} from "@careforall/events";
import type { SnapshotStore } from "../snapshots";

export function startSnapshotRefresher(bus: Bus, snapshots: SnapshotStore): Promise<Subscription> {
  return bus.subscribe({
    types: [CampaignCreated.type, CampaignUpdated.type, CampaignClosed.type, CampaignTotalsChanged.type],
    handler: async (event) => {
      await snapshots.apply((event as CampaignEvent).data);
    },
  });
}
