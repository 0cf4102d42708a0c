// The money audit in the background: each run refreshes the drift gauges (the auditor's) and is
// published as audit.completed — straight to the bus, no outbox: the gateway has no database, and
// a lost report is replaced by the next run's. Only the drifting campaigns are listed, so the event
// stays small however many campaigns there are; operators are notified from it.
import type { Bus } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import { AuditCompleted } from "@careforall/events";
import { mintRequestId } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { ROOT_CONTEXT, withRequestId, withSpan } from "@careforall/telemetry";
import { createPollingLoop } from "@careforall/worker";
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

export interface AuditLoopOptions {
  auditor: { run(requestId: string): Promise<AuditReport> };
  bus: Pick<Bus, "publish">;
  clock: Clock;
  log: Logger;
  intervalMs: number;
}

/** Not started: main.ts starts it when AUDIT_INTERVAL_SECONDS > 0 and stops it at shutdown. */
export function createAuditLoop({ auditor, bus, clock, log, intervalMs }: AuditLoopOptions) {
  return createPollingLoop({
    name: "gateway.audit",
    log,
    intervalMs,
    async tick() {
      // One trace and one request id per run: its calls to campaign, pledge and the bank, their
      // log lines and the audit.completed it publishes all name them.
      const requestId = mintRequestId();
      await withSpan("gateway.audit", { parent: withRequestId(ROOT_CONTEXT, requestId) }, async () => {
        const report = await auditor.run(requestId);
        await bus.publish(auditCompletedEvent(report, clock)).catch((err) => log.warn({ err }, "audit.publish_failed"));
      });
      return false;
    },
  });
}
