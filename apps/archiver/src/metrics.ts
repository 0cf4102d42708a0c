// The archiver's own series on /metrics, beside the bus's (careforall_bus_consumer_pending{consumer="archiver"}
// is its lag): events indexed, events not indexed by outcome (retried later, or dead-lettered for
// good), and how long the bulk requests take.
import type { HttpMetrics } from "@careforall/http";
import { Histogram } from "prom-client";

export interface ArchiverMetrics {
  indexed: { inc(value?: number): void };
  /** outcome: `retried` (back to the bus, redelivered with backoff) or `dead_lettered` (refused; logged with its event id). */
  failures: { inc(labels: { outcome: "retried" | "dead_lettered" }, value?: number): void };
  bulkSeconds: { observe(labels: { result: "ok" | "failed" }, seconds: number): void };
}

const registered = new WeakMap<HttpMetrics, ArchiverMetrics>();

/** Registers the series once per registry; both failure outcomes exist from the start (an alert needs no first failure). */
export function archiverMetrics(metrics: HttpMetrics): ArchiverMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;
  const failures = metrics.counter(
    "careforall_archiver_failures_total",
    "Events Elasticsearch did not accept: retried = back to the bus for redelivery with backoff (429, 5xx, unreachable), dead_lettered = refused for what they are (4xx other than 429), logged with the event id and never retried",
    ["outcome"],
  );
  failures.inc({ outcome: "retried" }, 0);
  failures.inc({ outcome: "dead_lettered" }, 0);
  const created: ArchiverMetrics = {
    indexed: metrics.counter(
      "careforall_archiver_events_indexed_total",
      "Events Elasticsearch accepted (a redelivered event is counted again: it overwrote its own document)",
    ),
    failures,
    bulkSeconds: new Histogram({
      name: "careforall_archiver_bulk_duration_seconds",
      help: "Time of one bulk indexing call (with its own retries of throttled documents), by result",
      labelNames: ["result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [metrics.registry],
    }),
  };
  registered.set(metrics, created);
  return created;
}
