// The bus's own counters on a service's /metrics: events published (and deduplicated), handled,
// failed (redelivered later) and terminated after max deliveries — the last must stay 0.
import { Gauge, type Registry } from "prom-client";
import type { Bus, BusStats, Subscription } from "./types";

/** Anything that can register a counter filled at scrape time (an app's HttpMetrics). */
export interface CounterRegistry {
  counter(name: string, help: string, labelNames?: string[], collect?: () => void): { inc(value?: number): void };
}

const COUNTERS: Array<[keyof BusStats, string, string]> = [
  ["published", "bus_events_published_total", "Events published to the bus"],
  ["duplicates", "bus_events_duplicate_total", "Publishes the bus had already accepted (deduplicated by event id)"],
  ["handled", "bus_events_handled_total", "Events handled and acknowledged"],
  ["failed", "bus_events_failed_total", "Handler failures (the event is redelivered with backoff)"],
  ["terminated", "bus_events_terminated_total", "Events given up after max deliveries (logged; must stay 0)"],
];

export function exportBusMetrics(metrics: CounterRegistry, bus: Pick<Bus, "stats">): void {
  for (const [field, name, help] of COUNTERS) {
    let reported = 0;
    const counter = metrics.counter(name, help, [], () => {
      const now = bus.stats()[field];
      if (now > reported) counter.inc(now - reported);
      reported = now;
    });
  }
}

/** A registry a labelled gauge can be added to (an app's HttpMetrics.registry). */
export interface GaugeHost {
  registry: Registry;
}

/**
 * Exports each durable consumer's lag (events not yet acknowledged) as
 * `bus_consumer_pending{consumer="…"}`, read from the bus at scrape time.
 */
export function exportConsumerLag(metrics: GaugeHost, subscriptions: Record<string, Pick<Subscription, "pending">>) {
  new Gauge({
    name: "bus_consumer_pending",
    help: "Events waiting for a durable consumer (not yet acknowledged): consumer lag",
    labelNames: ["consumer"],
    registers: [metrics.registry],
    async collect() {
      await Promise.all(
        Object.entries(subscriptions).map(async ([consumer, sub]) => {
          try {
            this.set({ consumer }, await sub.pending());
          } catch {
            // The bus being unreachable shows on /ready; keep the last value rather than failing the scrape.
          }
        }),
      );
    },
  });
}
