// The bus's own counters on a service's /metrics: events published (and deduplicated), handled,
// failed (redelivered later) and terminated after max deliveries — the last must stay 0.
import type { Bus, BusStats } from "./types";

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
