// What the observability tests need to know about PromQL and our rule and dashboard files: the
// metric names an expression reads (recording rules resolved to the metrics they are made of),
// the rules of deploy/prometheus/alerts.yml, every query of the Grafana dashboards, and the metric
// names a /metrics page exports.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const PROMETHEUS_DIR = join(ROOT, "deploy", "prometheus");
export const DASHBOARDS_DIR = join(ROOT, "deploy", "grafana", "dashboards");

/** Series Prometheus makes itself (per scrape target, per alert): no service exports them. */
export const SYNTHETIC_METRICS = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"]);

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names an expression selects: string literals, label matchers, range and subquery
 * brackets, grouping label lists and Grafana variables are removed first; what is left that is an
 * identifier not called like a function is a metric name.
 */
export function metricNames(expr: string): Set<string> {
  const names = new Set<string>();
  // label_values(metric, label) in a Grafana variable query names its metric.
  for (const m of expr.matchAll(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*[,)]/g)) names.add(m[1] as string);
  const stripped = expr
    .replace(/label_values\([^)]*\)/g, " ")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    // Numbers and durations (0.99, 1e3, 5m): a token that starts with a digit is never a name.
    .replace(/\b\d[\w.]*/g, " ");
  for (const m of stripped.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m as unknown as [string, string, string | undefined];
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return names;
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Every rule of alerts.yml, in file order. */
export function loadRules(): Rule[] {
  const doc = Bun.YAML.parse(readFileSync(join(PROMETHEUS_DIR, "alerts.yml"), "utf8")) as {
    groups: Array<{ name: string; rules: Rule[] }>;
  };
  return doc.groups.flatMap((g) => g.rules);
}

/** The metrics an expression reads in the end: recording rules replaced by what they read. */
export function resolvedMetricNames(expr: string, rules: readonly Rule[]): Set<string> {
  const recorded = new Map(rules.filter((r) => r.record).map((r) => [r.record as string, r.expr]));
  const out = new Set<string>();
  const visit = (e: string, depth: number) => {
    for (const name of metricNames(e)) {
      const inner = recorded.get(name);
      if (inner !== undefined && depth < 10) visit(inner, depth + 1);
      else out.add(name);
    }
  };
  visit(expr, 0);
  return out;
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

export interface Dashboard {
  file: string;
  uid: string;
  title: string;
  panels: Array<{ id: number; title: string; description?: string; targets?: Array<{ expr?: string }> }>;
  templating?: { list: Array<{ name: string; query?: string | { query?: string } }> };
}

export function loadDashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({
      file,
      ...(JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), "utf8")) as Omit<Dashboard, "file">),
    }));
}

/** Every PromQL query of every dashboard: panel targets and variable queries. */
export function dashboardQueries(dashboards: readonly Dashboard[]): DashboardQuery[] {
  return dashboards.flatMap((d) => [
    ...d.panels.flatMap((p) =>
      (p.targets ?? [])
        .filter((t) => t.expr)
        .map((t) => ({ dashboard: d.file, panel: p.title, expr: t.expr as string })),
    ),
    ...(d.templating?.list ?? []).flatMap((v) => {
      const q = typeof v.query === "string" ? v.query : v.query?.query;
      return q ? [{ dashboard: d.file, panel: `variable ${v.name}`, expr: q }] : [];
    }),
  ]);
}

/**
 * The metric names a Prometheus text page exports: every `# TYPE` (a labelled metric with no
 * series yet is still exported), a histogram's `_bucket`, `_sum` and `_count`, and every sample.
 */
export function exportedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
      if (kind === "summary") for (const s of ["_sum", "_count"]) names.add(name + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1] as string);
  }
  return names;
}
