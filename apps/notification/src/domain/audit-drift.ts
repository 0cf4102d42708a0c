// When audit drift becomes worth telling operators about: drift above zero in two consecutive
// audits (one audit may catch money in flight between services), reported once, and not again
// until an audit at zero drift clears it. Pure: the state is what the database keeps of the last audit.

export interface AuditDriftState {
  lastDriftMinor: number;
  lastCheckedAt: string;
  /** The drift persisting now has been reported. */
  alerted: boolean;
}

export interface AuditFacts {
  checkedAt: string;
  totalDriftMinor: number;
}

export type AuditDecision =
  /** An audit older than (or the same as) the last one applied: nothing changes. */
  { kind: "stale" } | { kind: "next"; state: AuditDriftState; alert: boolean };

export function nextAuditState(previous: AuditDriftState | null, audit: AuditFacts): AuditDecision {
  if (previous && Date.parse(audit.checkedAt) <= Date.parse(previous.lastCheckedAt)) return { kind: "stale" };
  const drifting = audit.totalDriftMinor > 0;
  const alert = drifting && previous !== null && previous.lastDriftMinor > 0 && !previous.alerted;
  return {
    kind: "next",
    alert,
    state: {
      lastDriftMinor: audit.totalDriftMinor,
      lastCheckedAt: audit.checkedAt,
      alerted: drifting && (alert || (previous?.alerted ?? false)),
    },
  };
}
