// The campaign service's money counters on its /metrics: the amounts the totals consumer moved
// into campaign totals (captured) and out of them (refunded), by currency, and how many donations
// each. Counted after the batch's transaction commits and only for events that moved money, so a
// redelivered event (absorbed by the inbox) is never counted twice.
import { Currency, PledgeCaptured, type PledgeChangeEvent } from "@careforall/events";
import type { HttpMetrics } from "@careforall/http";

export interface CampaignMetrics {
  /** `applied[i]` says whether `events[i]` moved money (as applyPledgeEvents returns it). */
  applied(events: readonly PledgeChangeEvent[], applied: readonly boolean[]): void;
}

const registered = new WeakMap<HttpMetrics, CampaignMetrics>();

export function campaignMetrics(metrics: HttpMetrics): CampaignMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;
  const captured = metrics.counter(
    "careforall_captured_amount_minor_total",
    "Money captured into campaign totals, in the currency's minor units",
    ["currency"],
  );
  const refunded = metrics.counter(
    "careforall_refunded_amount_minor_total",
    "Money refunded out of campaign totals, in the currency's minor units",
    ["currency"],
  );
  const donations = metrics.counter(
    "careforall_totals_applied_total",
    "Pledge events applied to campaign totals, by outcome (captured, refunded)",
    ["outcome"],
  );
  // Every series exists from the start (0), so a rate() and a dashboard need no first donation.
  donations.inc({ outcome: "captured" }, 0);
  donations.inc({ outcome: "refunded" }, 0);
  for (const { const: currency } of Currency.anyOf) {
    captured.inc({ currency }, 0);
    refunded.inc({ currency }, 0);
  }
  const created: CampaignMetrics = {
    applied(events, applied) {
      events.forEach((event, i) => {
        if (!applied[i]) return;
        const { amountMinor, currency } = event.data;
        if (event.type === PledgeCaptured.type) {
          captured.inc({ currency }, amountMinor);
          donations.inc({ outcome: "captured" });
        } else {
          refunded.inc({ currency }, amountMinor);
          donations.inc({ outcome: "refunded" });
        }
      });
    },
  };
  registered.set(metrics, created);
  return created;
}
