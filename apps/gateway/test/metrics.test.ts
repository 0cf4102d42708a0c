// The gateway's own metrics: the audit gauges (drift, audits in a row with drift — the
// AuditDriftPersisting alert pages from 2 — runs by result, last run) and the WebSocket delivery
// latency read from a frame's `at` without parsing the frame.
import { describe, expect, test } from "bun:test";
import { createHttpMetrics } from "@careforall/http";
import type { AuditReport } from "../src/domain/audit";
import { auditMetrics } from "../src/metrics";
import { frameTime, realtimeMetrics } from "../src/realtime/metrics";

const report = (totalDriftMinor: number, stuckPledges = 0): AuditReport => ({
  campaigns: [],
  totalDriftMinor,
  stuckPledges,
  checkedAt: new Date().toISOString(),
});

/** The value of the series `name` whose labels include `labels`, or undefined when there is none. */
async function value(
  metrics: ReturnType<typeof createHttpMetrics>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  for (const line of (await metrics.registry.metrics()).split("\n")) {
    const m = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

describe("audit metrics", () => {
  test("before the first audit every series is there at 0", async () => {
    const metrics = createHttpMetrics("gateway");
    auditMetrics(metrics);
    expect(await value(metrics, "careforall_audit_drift_minor")).toBe(0);
    expect(await value(metrics, "careforall_audit_drifting_runs")).toBe(0);
    expect(await value(metrics, "careforall_audit_stuck_pledges")).toBe(0);
    expect(await value(metrics, "careforall_audit_last_run_timestamp_seconds")).toBe(0);
    expect(await value(metrics, "careforall_audit_runs_total", { result: "drift" })).toBe(0);
  });

  test("drift counts audits in a row, and one clean audit resets it", async () => {
    const metrics = createHttpMetrics("gateway");
    const audit = auditMetrics(metrics);
    audit.record(report(500, 2));
    expect(await value(metrics, "careforall_audit_drifting_runs")).toBe(1);
    audit.record(report(300, 1));
    expect(await value(metrics, "careforall_audit_drifting_runs")).toBe(2);
    expect(await value(metrics, "careforall_audit_drift_minor")).toBe(300);
    expect(await value(metrics, "careforall_audit_stuck_pledges")).toBe(1);
    audit.record(report(0));
    expect(await value(metrics, "careforall_audit_drifting_runs")).toBe(0);
    expect(await value(metrics, "careforall_audit_runs_total", { result: "drift" })).toBe(2);
    expect(await value(metrics, "careforall_audit_runs_total", { result: "clean" })).toBe(1);
    const last = (await value(metrics, "careforall_audit_last_run_timestamp_seconds")) ?? 0;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(60);
  });
});

describe("WebSocket delivery latency", () => {
  test("frameTime reads a frame's at, and is NaN for a frame without one", () => {
    const at = "2026-01-02T03:04:05.678Z";
    expect(frameTime(JSON.stringify({ type: "notification", id: "n1", title: "t", at }))).toBe(Date.parse(at));
    expect(frameTime(JSON.stringify({ type: "campaign.totals", campaignId: "c", raisedMinor: 1 }))).toBeNaN();
    // A quote inside a text value is escaped in JSON, so a message cannot fake the key.
    const sneaky = JSON.stringify({ type: "chat.message", text: '"at":"1999-01-01T00:00:00Z"', at });
    expect(frameTime(sneaky)).toBe(Date.parse(at));
  });

  test("a pushed frame with an at is observed once per frame by its type; one without is not", async () => {
    const metrics = createHttpMetrics("gateway");
    const ws = realtimeMetrics(metrics, { sockets: () => 0, topics: () => 0 });
    const at = new Date(Date.now() - 1500).toISOString();
    ws.fanoutOut("user.u1", 3, JSON.stringify({ type: "notification", id: "n1", at }));
    ws.fanoutOut("campaign.c1", 5, JSON.stringify({ type: "campaign.totals", campaignId: "c1" }));
    // Nobody holds the topic: nothing was written, nothing is observed.
    ws.fanoutOut("user.u2", 0, JSON.stringify({ type: "notification", id: "n2", at }));
    expect(await value(metrics, "careforall_ws_delivery_seconds_count", { type: "notification" })).toBe(1);
    expect(await value(metrics, "careforall_ws_delivery_seconds_bucket", { le: "1", type: "notification" })).toBe(0);
    expect(await value(metrics, "careforall_ws_delivery_seconds_bucket", { le: "2.5", type: "notification" })).toBe(1);
    expect(await value(metrics, "careforall_ws_delivery_seconds_count", { type: "campaign.totals" })).toBeUndefined();
  });
});
