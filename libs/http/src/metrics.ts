// Prometheus metrics per app instance (not the global registry, so several services can share
// one process in tests). Labels use the route template, never the raw path. Every app also
// exports the internal calls it refused for their service credential (DESIGN.md invariant 7).
// Every exported name starts with `careforall_` (counters end in `_total`, durations are
// `_seconds`, amounts `_minor`): the helpers below refuse any other name, and
// tests/observability/grafana.test.ts checks every service's /metrics page for it.
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
  /**
   * Counts an internal call refused: `credential` (401: no, forged, expired or misaddressed service
   * token) or `caller` (403: a proven service the route does not accept).
   */
  refused(reason: RefusedReason): void;
}

export type RefusedReason = "credential" | "caller";

/** The prefix of every metric the platform exports. */
export const METRIC_PREFIX = "careforall_";

/** Throws for a metric name without the platform's prefix, so an unprefixed metric fails at boot. */
export function checkMetricName(name: string): string {
  if (!name.startsWith(METRIC_PREFIX) || !/^[a-z_][a-z0-9_]*$/.test(name))
    throw new Error(`metric ${name}: exported metric names are snake_case and start with ${METRIC_PREFIX}`);
  return name;
}

export function createHttpMetrics(service: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const http = new RequestMetrics();
  http.register(registry);
  const refused = new Counter({
    name: "careforall_internal_calls_refused_total",
    help: "Internal calls refused: credential = no or bad service token (401), caller = service not accepted by the route (403)",
    labelNames: ["reason"],
    registers: [registry],
  });
  // Both series exist from the start, so an alert on their rate needs no first refusal.
  refused.inc({ reason: "credential" }, 0);
  refused.inc({ reason: "caller" }, 0);
  return {
    registry,
    http,
    gauge(name, help, collect) {
      return new Gauge({
        name: checkMetricName(name),
        help,
        registers: [registry],
        async collect() {
          this.set(await collect());
        },
      });
    },
    counter(name, help, labelNames = [], collect) {
      return new Counter({
        name: checkMetricName(name),
        help,
        labelNames,
        registers: [registry],
        ...(collect ? { collect } : {}),
      });
    },
    refused: (reason) => refused.inc({ reason }),
  };
}
