// Pledge states as notification sees them: how far along each one is (events can arrive in any
// order; the projection and the pushes only ever move forward), which ones are still open (the
// stuck sweeper's concern), and which changes the donor is told about in a stored notification.
import type { PledgeStatus } from "@careforall/events";

/**
 * Forward order of the pledge machine (DESIGN.md): pending → authorized → one terminal state →
 * refunded (only after captured). Terminal states share a rank: the machine never moves between them.
 */
export const STATUS_RANK: Record<PledgeStatus, number> = {
  pending: 0,
  authorized: 1,
  captured: 2,
  failed: 2,
  cancelled: 2,
  expired: 2,
  refunded: 3,
};

/** Not yet terminal: still waiting on the bank or the donor. */
export const OPEN_STATUSES = ["pending", "authorized"] as const satisfies readonly PledgeStatus[];

export const isOpen = (status: PledgeStatus): boolean => (OPEN_STATUSES as readonly string[]).includes(status);

/** The changes a donor finds stored in their notifications (the others are only pushed live). */
export const DONOR_NOTIFIED = ["captured", "failed", "refunded"] as const satisfies readonly PledgeStatus[];
export type DonorNotifiedStatus = (typeof DONOR_NOTIFIED)[number];

export const isDonorNotified = (status: PledgeStatus): status is DonorNotifiedStatus =>
  (DONOR_NOTIFIED as readonly string[]).includes(status);
