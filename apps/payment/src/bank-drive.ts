// The drive loop: the bank calls a payment needs, each its own phase between transactions, every
// answer turned into one machine event, or into a deferral the reconciler resumes from (invariant 2).
import type { Logger } from "@careforall/log";
import type { AuthorizeRequest, BankClient, BankOutcome } from "./bank-client";
import type { PaymentRow } from "./db/schema";
import { type BankAction, holdEvent, nextAction, type PaymentEvent } from "./domain";
import type { ApplyEvent, ApplyResult, DeferAfterUnknown, LoadPayment } from "./service";

/** Bank steps one drive may take (authorize, capture, refund and their bookkeeping fit easily). */
const MAX_DRIVE_STEPS = 8;

/** An outcome as one line for logs and last_error. */
export function describeOutcome(outcome: BankOutcome<unknown>): string {
  if (outcome.kind === "unknown") return outcome.error;
  if (outcome.kind === "rejected")
    return `rejected ${outcome.status}${outcome.problem.detail ? `: ${outcome.problem.detail}` : ""}`;
  return "ok";
}

export interface BankDriveDeps {
  bank: BankClient;
  log: Logger;
  /** The payment service's own steps: read a payment, apply one event, defer after an unknown outcome. */
  load: LoadPayment;
  apply: ApplyEvent;
  deferAfterUnknown: DeferAfterUnknown;
}

export interface BankDrive {
  /** Drives a payment now and answers with where it stopped. */
  drive: (id: string, cause: string) => Promise<PaymentRow | undefined>;
  /** Drives a payment in the background. */
  driveLater: (id: string, cause: string) => void;
  /** Waits for background drives (tests, shutdown). */
  idle: () => Promise<void>;
}

/** The authorize call for a payment: the same key and the same body on every retry, so the bank answers with what it already did. */
export const authorizeRequest = (row: PaymentRow): AuthorizeRequest => ({
  idempotencyKey: row.id,
  accountId: row.sourceAccountId,
  grant: row.sourceGrant,
  amountMinor: row.amountMinor,
  currency: row.currency,
  campaignId: row.campaignId,
  paymentRef: row.id,
});

export function createBankDrive(deps: BankDriveDeps): BankDrive {
  const { bank, log, load, apply, deferAfterUnknown } = deps;
  /** Drives started in the background (after a webhook or a cancel), so tests and shutdown can wait for them. */
  const background = new Set<Promise<unknown>>();

  type Step = { continue: true; row: PaymentRow } | { continue: false };
  const stop: Step = { continue: false };
  const next = (result: ApplyResult): Step =>
    result.outcome === "applied" ? { continue: true, row: result.payment } : stop;

  /** Converges with what the bank says about the hold, after a definite refusal of capture/release/refund. */
  async function convergeWithHold(row: PaymentRow, operation: string, cause: string): Promise<Step> {
    if (!row.holdId) return stop;
    const answer = await bank.hold(row.holdId);
    if (answer.kind !== "ok") {
      await deferAfterUnknown(row, "hold", describeOutcome(answer));
      return stop;
    }
    const result = await apply({ id: row.id }, holdEvent(answer.value), cause);
    if (result.outcome !== "applied") {
      // The bank refused the call, yet the hold agrees with us: try again later.
      await deferAfterUnknown(row, operation, `refused while hold is ${answer.value.status}`);
    }
    return next(result);
  }

  async function outcomeOf<T>(
    row: PaymentRow,
    operation: BankAction,
    answer: BankOutcome<T>,
    cause: string,
    onOk: (value: T) => Promise<Step>,
  ): Promise<Step> {
    if (answer.kind === "ok") return onOk(answer.value);
    if (answer.kind === "unknown") {
      await deferAfterUnknown(row, operation, answer.error);
      return stop;
    }
    log.warn({ paymentId: row.id, operation, status: answer.status, problem: answer.problem }, "payment.bank_refused");
    return convergeWithHold(row, operation, cause);
  }

  /**
   * The payment in its in-flight state for a bank call (capturing, refunding): moved there first
   * when it is still `from`; null when another worker moved it in the meantime.
   */
  async function begin(row: PaymentRow, from: PaymentRow["status"], event: PaymentEvent, cause: string) {
    if (row.status !== from) return row;
    const started = await apply({ id: row.id }, event, cause);
    return started.outcome === "applied" ? started.payment : null;
  }

  async function runAction(row: PaymentRow, action: BankAction, cause: string): Promise<Step> {
    switch (action) {
      case "authorize": {
        const answer = await bank.authorize(authorizeRequest(row));
        if (answer.kind === "unknown" || (answer.kind === "rejected" && answer.status === 409)) {
          await deferAfterUnknown(row, "authorize", describeOutcome(answer));
          return stop;
        }
        if (answer.kind === "rejected") {
          const reason = answer.status === 402 ? "invalid_source" : "bank_rejected";
          return next(
            await apply({ id: row.id }, { type: "authorize_failed", reason }, `bank:authorize:${answer.status}`),
          );
        }
        const result = answer.value;
        if (result.status === "failed")
          return next(
            await apply(
              { id: row.id },
              { type: "authorize_failed", reason: result.reason ?? "declined" },
              "bank:authorize",
            ),
          );
        if (!result.holdId) {
          await deferAfterUnknown(row, "authorize", "held without a hold id");
          return stop;
        }
        return next(await apply({ id: row.id }, { type: "authorized", holdId: result.holdId }, "bank:authorize"));
      }
      case "capture": {
        const current = await begin(row, "authorized", { type: "capture_started" }, cause);
        const holdId = current?.holdId;
        if (!current || !holdId) return stop;
        const answer = await bank.capture({ idempotencyKey: `${current.id}:capture`, holdId });
        return outcomeOf(current, "capture", answer, "bank:capture", async (value) =>
          next(
            await apply({ id: current.id }, { type: "captured", holdId, transferId: value.transferId }, "bank:capture"),
          ),
        );
      }
      case "release": {
        const holdId = row.holdId;
        if (!holdId) return stop;
        const answer = await bank.release({ idempotencyKey: `${row.id}:release`, holdId });
        return outcomeOf(row, "release", answer, "bank:release", async () =>
          next(await apply({ id: row.id }, { type: "released" }, "bank:release")),
        );
      }
      case "refund": {
        const current = await begin(row, "captured", { type: "refund_started" }, cause);
        const holdId = current?.holdId;
        if (!current || !holdId) return stop;
        const answer = await bank.refund({ idempotencyKey: `${current.id}:refund`, holdId });
        return outcomeOf(current, "refund", answer, "bank:refund", async (value) =>
          next(await apply({ id: current.id }, { type: "refunded", transferId: value.transferId }, "bank:refund")),
        );
      }
    }
  }

  /**
   * Runs the bank calls a payment needs until it waits on nothing, an outcome is unknown, or
   * another worker moved it first (that worker carries on). Each call is its own phase.
   */
  async function drive(id: string, cause: string): Promise<PaymentRow | undefined> {
    let row = await load(id);
    for (let i = 0; i < MAX_DRIVE_STEPS && row; i++) {
      const action = nextAction(row);
      if (!action) return row;
      const step = await runAction(row, action, cause);
      if (!step.continue) return load(id);
      row = step.row;
    }
    return row;
  }

  /** Fire-and-forget drive (after a webhook or a cancel); failures are left to the reconciler. */
  function driveLater(id: string, cause: string): void {
    const running: Promise<unknown> = drive(id, cause)
      .catch((err) => log.error({ err, paymentId: id, cause }, "payment.drive_failed"))
      .finally(() => background.delete(running));
    background.add(running);
  }

  async function idle(): Promise<void> {
    while (background.size > 0) await Promise.allSettled([...background]);
  }

  return { drive, driveLater, idle };
}
