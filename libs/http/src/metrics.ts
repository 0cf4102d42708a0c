// Prometheus metrics per app instance (not the global registry, so several services can share
// one process in tests). Labels use the route template, never the raw path.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface HttpMetrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route" | "status">;
  /** Registers an app-specific gauge whose value is read at scrape time. */
  gauge(name: string, help: string, collect: () => number | Promise<number>): Gauge;
  /**
   * Registers an app-specific counter. `collect` runs at scrape time: hot paths count in plain
   * integers and add them to the counter there, instead of paying for a label lookup per request.
   */
  counter<L extends string = string>(name: string, help: string, labelNames?: L[], collect?: () => void): Counter<L>;
}

export function createHttpMetrics(service: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    gauge(name, help, collect) {
      return new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          this.set(await collect());
        },
      });
    },
    counter(name, help, labelNames = [], collect) {
      return new Counter({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
    },
  };
}
