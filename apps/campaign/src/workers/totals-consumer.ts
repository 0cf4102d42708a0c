// Subscribes the totals service to pledge.captured / pledge.refunded (durable: one replica
// handles each event; a failure is retried with backoff, the inbox makes redelivery harmless).
import type { Bus, Subscription } from "@careforall/bus";
import { PledgeCaptured, type PledgeChangeEvent, PledgeRefunded } from "@careforall/events";
import type { TotalsService } from "../totals";

export function startTotalsConsumer(bus: Bus, totals: TotalsService): Promise<Subscription> {
  return bus.subscribe({
    durable: "campaign-totals",
    types: [PledgeCaptured.type, PledgeRefunded.type],
    maxDeliver: 50,
    backoffMs: [100, 500, 2000, 5000],
    handler: async (event) => {
      await totals.applyPledgeEvent(event as PledgeChangeEvent);
    },
  });
}
