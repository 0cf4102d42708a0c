// The background audit's report as the audit.completed event operators are notified from: only
// the campaigns that drift are listed (the others agree), so the event stays small however many
// campaigns there are.
import type { Clock } from "@careforall/config";
import { AuditCompleted } from "@careforall/events";
import { newEvent } from "@careforall/outbox";
import type { AuditReport } from "../domain/audit";

export function auditCompletedEvent(report: AuditReport, clock: Clock) {
  const data: AuditCompleted = {
    checkedAt: report.checkedAt,
    totalDriftMinor: report.totalDriftMinor,
    drifting: report.campaigns
      .filter((c) => c.driftMinor !== 0)
      .map((c) => ({ campaignId: c.campaignId, driftMinor: c.driftMinor })),
    stuckPledges: report.stuckPledges,
  };
  return newEvent(AuditCompleted.type, "audit", data, clock);
}
