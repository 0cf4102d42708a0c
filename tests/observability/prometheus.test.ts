// deploy/prometheus checked the way Prometheus itself reads it: `promtool check config` (which also
// checks the rule files it names), `promtool check rules` and `promtool test rules` (every alert
// with a case that fires and one that does not, deploy/prometheus/tests/*.yml). Beside promtool:
// every service of compose.yaml is scraped on its port through DNS (every replica), every alert
// carries a severity, summary, description and a runbook that has its section in
// docs/operating/alerts.md, and every alert has both kinds of test case.
// promtool comes from Debian's `prometheus` package (./cfa test installs it when missing).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadRules, PROMETHEUS_DIR, ROOT } from "./promql";

const PROMTOOL = [Bun.which("promtool"), "/usr/bin/promtool"].find((p) => p && existsSync(p));
const TEST_FILES = readdirSync(join(PROMETHEUS_DIR, "tests"))
  .filter((f) => f.endsWith(".yml"))
  .sort()
  .map((f) => join("tests", f));

function promtool(...args: string[]): { code: number; output: string } {
  if (!PROMTOOL) throw new Error("promtool not found: install Debian's prometheus package (./cfa test does)");
  // Relative paths, run from deploy/prometheus: the config names its rule files relative to itself.
  const proc = Bun.spawnSync([PROMTOOL, ...args], { cwd: PROMETHEUS_DIR, stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode ?? -1, output: `${proc.stdout.toString()}${proc.stderr.toString()}` };
}

describe("promtool", () => {
  test("check config: prometheus.yml and the rule files it names are valid", () => {
    const { code, output } = promtool("check", "config", "prometheus.yml");
    expect(output).toContain("1 rule files found");
    expect({ code, output }).toMatchObject({ code: 0 });
  }, 60_000);

  test("check rules: alerts.yml is valid", () => {
    const { code, output } = promtool("check", "rules", "alerts.yml");
    expect({ code, output }).toMatchObject({ code: 0 });
  }, 60_000);

  test("test rules: every case of tests/*.yml passes", () => {
    expect(TEST_FILES.length).toBeGreaterThan(0);
    const { code, output } = promtool("test", "rules", ...TEST_FILES);
    expect(output).not.toContain("FAILED");
    expect({ code, output }).toMatchObject({ code: 0 });
    // Seconds here; far longer on a loaded 2-core machine.
  }, 120_000);
});

interface ScrapeJob {
  job_name: string;
  metrics_path?: string;
  dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
}

describe("scrape config", () => {
  const config = Bun.YAML.parse(readFileSync(join(PROMETHEUS_DIR, "prometheus.yml"), "utf8")) as {
    scrape_configs: ScrapeJob[];
  };
  const compose = Bun.YAML.parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as {
    services: Record<string, { environment?: Record<string, string> | string[] }>;
  };
  /** compose services that listen on a PORT of their own: every one of our apps. */
  const apps = Object.entries(compose.services).flatMap(([name, service]) => {
    const env = service.environment;
    const port = Array.isArray(env)
      ? env.find((e) => e.startsWith("PORT="))?.slice(5)
      : (env as Record<string, string> | undefined)?.PORT;
    return port ? [{ name, port: Number(port) }] : [];
  });

  test("compose.yaml lists the apps (so the comparison below means something)", () => {
    expect(apps.map((a) => a.name)).toEqual(expect.arrayContaining(["gateway", "pledge", "payment", "bank"]));
  });

  test("every app of compose.yaml is scraped on its own port, every replica (DNS A records of its service name)", () => {
    for (const app of apps) {
      const job = config.scrape_configs.find((j) => j.job_name === app.name);
      expect(job, `a scrape job for ${app.name}`).toBeDefined();
      expect(job?.metrics_path ?? "/metrics").toBe("/metrics");
      expect(job?.dns_sd_configs).toEqual([expect.objectContaining({ names: [app.name], type: "A", port: app.port })]);
    }
  });

  test("every scrape job names a service of compose.yaml (no stale job)", () => {
    const names = new Set(Object.keys(compose.services));
    for (const job of config.scrape_configs) expect(names.has(job.job_name), job.job_name).toBe(true);
  });
});

describe("alerts", () => {
  const rules = loadRules();
  const alerts = rules.filter((r) => r.alert);
  const runbook = readFileSync(join(ROOT, "docs", "operating", "alerts.md"), "utf8");
  const headings = new Set([...runbook.matchAll(/^#{2,3} (\S+)\s*$/gm)].map((m) => (m[1] as string).toLowerCase()));
  const cases = TEST_FILES.flatMap((file) => {
    const doc = Bun.YAML.parse(readFileSync(join(PROMETHEUS_DIR, file), "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
  });

  test("the issue's alerts are all there", () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnMedium",
        "ErrorBudgetBurnSlow",
        "LatencyBudgetBurnFast",
        "LatencyBudgetBurnMedium",
        "LatencyBudgetBurnSlow",
        "OutboxStale",
        "ConsumerLagGrowing",
        "AuditDriftPersisting",
        "PledgesStuck",
        "WebhookSignatureFailures",
        "InternalCallsRefused",
      ]),
    );
  });

  test("every alert has a severity, a summary, a description and a runbook section in docs/operating/alerts.md", () => {
    for (const a of alerts) {
      const name = a.alert as string;
      expect(["page", "ticket"], name).toContain(a.labels?.severity as string);
      expect(a.annotations?.summary, name).toBeTruthy();
      expect(a.annotations?.description, name).toBeTruthy();
      expect(a.annotations?.runbook, name).toBe(`docs/operating/alerts.md#${name.toLowerCase()}`);
      expect(headings.has(name.toLowerCase()), `a "## ${name}" section in docs/operating/alerts.md`).toBe(true);
    }
  });

  test("every alert has a promtool case where it fires and one where it stays silent", () => {
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${a.alert}: a case that fires`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert}: a case that stays silent`,
      ).toBe(true);
    }
  });
});
