// HTTP request count and latency histogram, by method, route template and status, exported as
// Prometheus `careforall_http_requests_total` and `careforall_http_request_duration_seconds`. Hand-rolled rather than
// prom-client's Counter/Histogram because those hash the label object on every call, which
// showed up as the largest cost of the gateway's cached read; here a request is two array
// increments on a series resolved once.
import type { Registry } from "prom-client";

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** One (method, route, status) series: a count, a sum and per-bucket (non-cumulative) counts. */
export class RequestSeries {
  count = 0;
  sum = 0;
  /** buckets[i] counts observations in (LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]; the last slot is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  constructor(readonly labels: Readonly<{ method: string; route: string; status: string }>) {}

  record(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class RequestMetrics {
  private readonly series = new Map<string, RequestSeries>();

  /** The series for one label set; resolve it once and keep it on a hot path. */
  seriesFor(method: string, route: string, status: string | number): RequestSeries {
    const key = `${method} ${route} ${status}`;
    let s = this.series.get(key);
    if (!s) {
      s = new RequestSeries({ method, route, status: String(status) });
      this.series.set(key, s);
    }
    return s;
  }

  record(method: string, route: string, status: string | number, seconds: number): void {
    this.seriesFor(method, route, status).record(seconds);
  }

  /** Registers both metrics on a prom-client registry (which renders them with its default labels). */
  register(registry: Registry): void {
    const all = () => [...this.series.values()];
    registry.registerMetric({
      name: "careforall_http_requests_total",
      help: "HTTP requests by method, route template and status",
      get: async () => ({
        name: "careforall_http_requests_total",
        help: "HTTP requests by method, route template and status",
        type: "counter",
        aggregator: "sum",
        values: all().map((s): MetricValue => ({ value: s.count, labels: { ...s.labels } })),
      }),
      reset: () => this.series.clear(),
    } as never);
    registry.registerMetric({
      name: "careforall_http_request_duration_seconds",
      help: "HTTP request latency by method, route template and status",
      get: async () => ({
        name: "careforall_http_request_duration_seconds",
        help: "HTTP request latency by method, route template and status",
        type: "histogram",
        aggregator: "sum",
        values: all().flatMap((s) => {
          const values: MetricValue[] = [];
          let cumulative = 0;
          LATENCY_BUCKETS.forEach((le, i) => {
            cumulative += s.buckets[i] as number;
            values.push({
              metricName: "careforall_http_request_duration_seconds_bucket",
              labels: { ...s.labels, le },
              value: cumulative,
            });
          });
          values.push({
            metricName: "careforall_http_request_duration_seconds_bucket",
            labels: { ...s.labels, le: "+Inf" },
            value: s.count,
          });
          values.push({
            metricName: "careforall_http_request_duration_seconds_sum",
            labels: { ...s.labels },
            value: s.sum,
          });
          values.push({
            metricName: "careforall_http_request_duration_seconds_count",
            labels: { ...s.labels },
            value: s.count,
          });
          return values;
        }),
      }),
      reset: () => this.series.clear(),
    } as never);
  }
}
