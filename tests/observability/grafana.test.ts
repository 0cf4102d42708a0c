// deploy/grafana against the running platform: its provisioning names the data sources compose
// runs (Prometheus, Jaeger, Elasticsearch) and every panel uses one of them; right after start,
// before any traffic, every metric that a dashboard query or an alert expression reads (recording
// rules resolved to what they read) is exported by some service's /metrics — so no panel or
// alert can silently watch nothing. Then one donation and one uncredentialed internal call move the
// business counters the money path dashboard and the alerts are built on. Every exported metric is
// named careforall_… (issue 12: Prometheus naming), on every service.
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import { call, expectCall, register, type Session, uniqueEmail, useSystem } from "../system/support";
import {
  dashboardQueries,
  exportedMetricNames,
  loadDashboards,
  loadRules,
  ROOT,
  resolvedMetricNames,
  SYNTHETIC_METRICS,
} from "./promql";

const GRAFANA = join(ROOT, "deploy", "grafana");
const dashboards = loadDashboards();
const rules = loadRules();

describe("provisioning", () => {
  const datasources = (
    Bun.YAML.parse(readFileSync(join(GRAFANA, "provisioning", "datasources", "careforall.yml"), "utf8")) as {
      datasources: Array<{ uid: string; type: string; url: string; isDefault?: boolean }>;
    }
  ).datasources;

  test("Prometheus (the default), Jaeger and Elasticsearch, at their compose service names", () => {
    expect(datasources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          uid: "prometheus",
          type: "prometheus",
          url: "http://prometheus:9090",
          isDefault: true,
        }),
        expect.objectContaining({ type: "jaeger", url: "http://jaeger:16686" }),
        expect.objectContaining({ type: "elasticsearch", url: "http://elasticsearch:9200" }),
      ]),
    );
  });

  test("the three dashboards, each panel with a unique id and a provisioned data source", () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      "careforall-money-path",
      "careforall-overview",
      "careforall-realtime",
    ]);
    const uids = new Set(datasources.map((d) => d.uid));
    for (const d of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${d.file}: panel ids`).toBe(ids.length);
      for (const p of d.panels) {
        if (p.targets === undefined) continue;
        const ds = (p as { datasource?: { uid?: string } }).datasource?.uid;
        expect(uids.has(ds as string), `${d.file} "${p.title}" data source ${ds}`).toBe(true);
        expect(p.description, `${d.file} "${p.title}" says what it shows`).toBeTruthy();
      }
    }
  });

  test("docs/operating/dashboards.md names every panel of every dashboard", () => {
    const doc = readFileSync(join(ROOT, "docs", "operating", "dashboards.md"), "utf8");
    for (const d of dashboards)
      for (const p of d.panels) expect(doc.includes(p.title), `${d.file} "${p.title}" in dashboards.md`).toBe(true);
  });

  test("the dashboards provider reads the directory compose mounts the dashboards at", () => {
    const provider = Bun.YAML.parse(
      readFileSync(join(GRAFANA, "provisioning", "dashboards", "careforall.yml"), "utf8"),
    ) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers).toEqual([
      expect.objectContaining({
        type: "file",
        options: expect.objectContaining({ path: "/var/lib/grafana/dashboards" }),
      }),
    ]);
  });
});

const sys = useSystem({ label: "grafana" });

/** Every service's /metrics page, by service name. */
async function scrapeAll(): Promise<Map<string, string>> {
  const pages = new Map<string, string>();
  await Promise.all(
    Object.entries(sys.stack.urls).map(async ([name, url]) => {
      const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) });
      expect(res.status, `${name} /metrics`).toBe(200);
      pages.set(name, await res.text());
    }),
  );
  return pages;
}

/** A counter's value summed over the series whose labels contain every given pair. */
function counter(page: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of page.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) {
    const set = m[1] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[2]);
  }
  return sum;
}

describe("on the running platform", () => {
  let exported = new Set<string>();
  let pages = new Map<string, string>();

  beforeAll(async () => {
    pages = await scrapeAll();
    exported = new Set([...pages.values()].flatMap((page) => [...exportedMetricNames(page)]));
  }, 60_000);

  test("every service answers /metrics with the request metrics (the scrape above is not empty)", () => {
    expect(exported.has("careforall_http_requests_total")).toBe(true);
    expect(exported.has("careforall_internal_calls_refused_total")).toBe(true);
  });

  test("every metric every service exports is named careforall_…, a counter …_total", () => {
    const wrong: string[] = [];
    for (const [service, page] of pages) {
      for (const m of page.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
        const [, name, kind] = m as unknown as [string, string, string];
        if (!name.startsWith("careforall_")) wrong.push(`${service}: ${name} (no careforall_ prefix)`);
        if ((kind === "counter") !== name.endsWith("_total")) wrong.push(`${service}: ${kind} ${name}`);
      }
      // No sample line without its TYPE line either (a hand-rolled metric could skip one).
      for (const name of exportedMetricNames(page))
        if (!name.startsWith("careforall_")) wrong.push(`${service}: sample ${name}`);
    }
    expect(pages.size).toBeGreaterThanOrEqual(8);
    expect(wrong).toEqual([]);
  });

  test("the money counters are at 0 for every currency before the first donation", async () => {
    const page = await (await fetch(`${sys.stack.urls.campaign}/metrics`)).text();
    for (const currency of ["BDT", "USD", "EUR"])
      expect(page).toMatch(
        new RegExp(`^careforall_captured_amount_minor_total\\{[^}]*currency="${currency}"[^}]*\\} 0$`, "m"),
      );
  });

  test("every metric a dashboard query reads is exported, right after start", () => {
    const missing = dashboardQueries(dashboards).flatMap((q) =>
      [...resolvedMetricNames(q.expr, rules)]
        .filter((name) => !exported.has(name) && !SYNTHETIC_METRICS.has(name))
        .map((name) => `${q.dashboard} "${q.panel}": ${name}`),
    );
    expect(missing).toEqual([]);
  });

  test("every metric an alert expression reads is exported, right after start", () => {
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThan(10);
    const missing = alerts.flatMap((a) =>
      [...resolvedMetricNames(a.expr, rules)]
        .filter((name) => !exported.has(name) && !SYNTHETIC_METRICS.has(name))
        .map((name) => `${a.alert}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  test("an internal call without a service credential is counted as refused by the service it reached", async () => {
    const bank = sys.stack.urls.bank;
    const before = counter(await (await fetch(`${bank}/metrics`)).text(), "careforall_internal_calls_refused_total", {
      reason: "credential",
    });
    const reply = await call(bank, "GET", "/accounts/acct_x/transactions", undefined, { internal: false });
    expect(reply.status).toBe(401);
    const after = counter(await (await fetch(`${bank}/metrics`)).text(), "careforall_internal_calls_refused_total", {
      reason: "credential",
    });
    expect(after).toBe(before + 1);
  }, 30_000);

  test("a captured donation moves the captured amount and the totals applied counters (campaign)", async () => {
    await sys.guard(async () => {
      const owner: Session = await register(sys.gw, "Metrics Owner");
      const campaign = await expectCall<{ id: string }>(
        201,
        sys.gw,
        "POST",
        "/api/campaigns",
        { title: "Metrics test", description: "Counts money", goalMinor: 1_000_000, currency: "BDT" },
        { token: owner.accessToken },
      );
      const account = await expectCall<{ bankAccountId: string; accountSecret: string }>(
        201,
        sys.gw,
        "POST",
        "/api/bank/demo-accounts",
      );
      const body = {
        amountMinor: 4_200,
        currency: "BDT",
        donor: { email: uniqueEmail("metrics-guest"), name: "Metrics Guest" },
        source: { bankAccountId: account.bankAccountId, accountSecret: account.accountSecret },
      };
      const key = `metrics-${crypto.randomUUID()}`;
      // Retried with its key while pledge does not know the campaign yet (it learns it from an event).
      await waitFor(
        async () => {
          const reply = await call(sys.gw, "POST", `/api/campaigns/${campaign.id}/pledges`, body, {
            headers: { "idempotency-key": key },
          });
          if (reply.status === 202) return true;
          if (reply.status === 404) return undefined;
          throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
        },
        { timeoutMs: 30_000, intervalMs: 200, what: "the pledge to be accepted" },
      );
      const campaignMetrics = async () => (await fetch(`${sys.stack.urls.campaign}/metrics`)).text();
      await waitFor(
        async () =>
          counter(await campaignMetrics(), "careforall_captured_amount_minor_total", { currency: "BDT" }) >= 4_200,
        { timeoutMs: 60_000, intervalMs: 250, what: "the captured amount on campaign's /metrics" },
      );
      const page = await campaignMetrics();
      expect(counter(page, "careforall_captured_amount_minor_total", { currency: "BDT" })).toBe(4_200);
      expect(counter(page, "careforall_totals_applied_total", { outcome: "captured" })).toBe(1);
      expect(counter(page, "careforall_refunded_amount_minor_total")).toBe(0);
    });
  }, 90_000);
});
