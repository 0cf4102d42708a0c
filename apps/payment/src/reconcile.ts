// The reconciler's step for one payment that waited too long: ask the bank what it knows, apply
// that, and drive on with the same idempotency keys (invariant 2).
import type { BankClient } from "./bank-client";
import { type BankDrive, describeOutcome } from "./bank-drive";
import type { PaymentRow } from "./db/schema";
import { holdEvent, nextAction, type PaymentEvent } from "./domain";
import type { PaymentMetrics } from "./metrics";
import type { ApplyEvent, DeferAfterUnknown, LoadPayment } from "./service";

export interface ReconcileDeps {
  bank: BankClient;
  metrics: PaymentMetrics;
  /** The payment service's own steps: read a payment, apply one event, defer after an unknown outcome, drive on. */
  load: LoadPayment;
  apply: ApplyEvent;
  deferAfterUnknown: DeferAfterUnknown;
  drive: BankDrive["drive"];
}

export function createReconcile(deps: ReconcileDeps): (id: string) => Promise<PaymentRow | undefined> {
  const { bank, metrics, load, apply, deferAfterUnknown, drive } = deps;

  /**
   * Converges one payment that waited too long: ask the bank what it knows (by idempotency key
   * while authorizing, by hold otherwise), apply that, then carry on with the same keys.
   */
  async function reconcile(id: string): Promise<PaymentRow | undefined> {
    const row = await load(id);
    if (!row) return undefined;
    const count = (action: string) => metrics.reconcilerActions.inc({ action });
    if (row.status === "authorizing") {
      const known = await bank.holdByKey(row.id);
      if (known.kind === "rejected" && known.status === 404) {
        // The bank never saw the authorize: send it again under the same key.
        count("authorize_retried");
        return drive(row.id, "reconciler");
      }
      if (known.kind !== "ok") {
        count("unknown");
        await deferAfterUnknown(row, "holdByKey", describeOutcome(known));
        return load(id);
      }
      if (known.value.status === "failed" || !known.value.holdId) {
        count("failed");
        await apply({ id }, { type: "authorize_failed", reason: known.value.reason ?? "declined" }, "reconciler");
        return load(id);
      }
      const hold = await bank.hold(known.value.holdId);
      const event: PaymentEvent =
        hold.kind === "ok" ? holdEvent(hold.value) : { type: "authorized", holdId: known.value.holdId };
      count(event.type);
      await apply({ id }, event, "reconciler");
      return drive(id, "reconciler");
    }
    if ((row.status === "capturing" || row.status === "refunding") && row.holdId) {
      const hold = await bank.hold(row.holdId);
      if (hold.kind !== "ok") {
        count("unknown");
        await deferAfterUnknown(row, "hold", describeOutcome(hold));
        return load(id);
      }
      const result = await apply({ id }, holdEvent(hold.value), "reconciler");
      // Not applied: the bank has not done it yet, so the same call goes again with the same key.
      count(result.outcome === "applied" ? holdEvent(hold.value).type : `${nextAction(row)}_retried`);
      return drive(id, "reconciler");
    }
    count("resumed");
    return drive(id, "reconciler");
  }

  return reconcile;
}
