// Prometheus metrics per app instance (not the global registry, so several services can share
// one process in tests). Labels use the route template, never the raw path.
import { Counter, Gauge, Registry } from "prom-client";
import { RequestMetrics } from "./request-metrics";

export interface HttpMetrics {
  registry: Registry;
  /** Request count and latency by method, route template and status. */
  http: RequestMetrics;
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
  const http = new RequestMetrics();
  http.register(registry);
  return {
    registry,
    http,
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
