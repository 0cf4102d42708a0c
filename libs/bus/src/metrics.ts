// The bus's own counters on a service's /metrics: events published (and deduplicated), handled,
// failed (redelivered later), redelivered and terminated after max deliveries — the last must stay 0.
import { Gauge, type Registry } from "prom-client";
import type { Bus, BusStats, Subscription } from "./types";

/** Anything that can register a counter filled at scrape time (an app's HttpMetrics). */
export interface CounterRegistry {
  counter(name: string, help: string, labelNames?: string[], collect?: () => void): { inc(value?: number): void };
}

const COUNTERS: Array<[keyof BusStats, string, string]> = [
  ["published", "careforall_bus_events_published_total", "Events published to the bus"],
  [
    "duplicates",
    "careforall_bus_events_duplicate_total",
    "Publishes the bus had already accepted (deduplicated by event id)",
  ],
  ["handled", "careforall_bus_events_handled_total", "Events handled and acknowledged"],
  ["failed", "careforall_bus_events_failed_total", "Handler failures (the event is redelivered with backoff)"],
  [
    "terminated",
    "careforall_bus_events_terminated_total",
    "Events given up after max deliveries (logged; must stay 0)",
  ],
  [
    "redelivered",
    "careforall_bus_events_redelivered_total",
    "Deliveries of an event its durable consumer had been handed before",
  ],
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
 * `careforall_bus_consumer_pending{consumer="<durable name>"}`, read from the bus at scrape time. Each
 * subscription labels itself with its own durable name, so no label can name the wrong consumer;
 * broadcasts (no durable, no lag) are left out. The collection is read at every scrape, so
 * subscriptions added to it later are exported too.
 */
export function exportConsumerLag(
  metrics: GaugeHost,
  subscriptions: Iterable<Pick<Subscription, "durable" | "pending">>,
): void {
  new Gauge({
    name: "careforall_bus_consumer_pending",
    help: "Events waiting for a durable consumer (not yet acknowledged): consumer lag",
    labelNames: ["consumer"],
    registers: [metrics.registry],
    async collect() {
      await Promise.all(
        [...subscriptions].map(async (sub) => {
          if (sub.durable === undefined) return;
          try {
            this.set({ consumer: sub.durable }, await sub.pending());
          } catch {
            // The bus being unreachable shows on /ready; keep the last value rather than failing the scrape.
          }
        }),
      );
    },
  });
}
