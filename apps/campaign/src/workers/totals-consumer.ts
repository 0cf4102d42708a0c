// Subscribes the totals service to pledge.captured / pledge.refunded in batches (durable: one
// replica handles each batch, applied in one transaction). A failed batch is retried by the bus
// event by event with backoff; the inbox makes any redelivery harmless.
import type { Bus, Subscription } from "@careforall/bus";
import { PledgeCaptured, type PledgeChangeEvent, PledgeRefunded } from "@careforall/events";
import type { CampaignMetrics } from "../metrics";
import { TOTALS_CONSUMER, type TotalsService } from "../totals";

export function startTotalsConsumer(bus: Bus, totals: TotalsService, metrics?: CampaignMetrics): Promise<Subscription> {
  return bus.subscribeBatch({
    durable: TOTALS_CONSUMER,
    types: [PledgeCaptured.type, PledgeRefunded.type],
    maxDeliver: 50,
    backoffMs: [100, 500, 2000, 5000],
    // Totals coalesce per campaign per batch: a slightly longer window makes a hot campaign one UPDATE.
    maxBatch: 500,
    maxWaitMs: 20,
    handleBatch: async (items) => {
      const events = items.map((item) => item.event as PledgeChangeEvent);
      const applied = await totals.applyPledgeEvents(events);
      metrics?.applied(events, applied);
    },
  });
}
