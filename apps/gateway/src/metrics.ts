// The money audit on the gateway's /metrics: drift and stuck pledges from the latest audit, how
// many audits in a row found drift (money in flight shows as drift for a moment, so only drift
// that persists across two audits is an incident), audits run by outcome, and when the last one
// finished. Set once per audit; a scrape reads plain numbers.
import type { HttpMetrics } from "@careforall/http";
import type { AuditReport } from "./domain/audit";

export interface AuditMetrics {
  /** The report of an audit that ran to the end. */
  record(report: AuditReport): void;
}

export function auditMetrics(metrics: HttpMetrics): AuditMetrics {
  let latest: AuditReport | undefined;
  let driftingRuns = 0;
  let finishedAt = 0;
  metrics.gauge("careforall_audit_drift_minor", "Total drift found by the latest money audit (must be 0)", () =>
    latest ? latest.totalDriftMinor : 0,
  );
  metrics.gauge("careforall_audit_stuck_pledges", "Pledges not terminal after the grace period (latest audit)", () =>
    latest ? latest.stuckPledges : 0,
  );
  metrics.gauge(
    "careforall_audit_drifting_runs",
    "Consecutive money audits that found drift (0 once an audit finds none); 2 or more is an incident",
    () => driftingRuns,
  );
  metrics.gauge(
    "careforall_audit_last_run_timestamp_seconds",
    "When the latest money audit finished (Unix seconds; 0 before the first)",
    () => finishedAt,
  );
  const runs = metrics.counter("careforall_audit_runs_total", "Money audits that ran to the end, by result", [
    "result",
  ]);
  runs.inc({ result: "clean" }, 0);
  runs.inc({ result: "drift" }, 0);
  return {
    record(report) {
      latest = report;
      driftingRuns = report.totalDriftMinor !== 0 ? driftingRuns + 1 : 0;
      finishedAt = Date.now() / 1000;
      runs.inc({ result: report.totalDriftMinor !== 0 ? "drift" : "clean" });
    },
  };
}
