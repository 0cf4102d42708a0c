// The operator API's use cases (authorize, capture, release): the same steps the workers take, with
// the operator's refusals as problems (404 for an unknown payment, 409 for a step that does not fit).
import { conflict, notFound } from "@careforall/http";
import type { BankDrive } from "./bank-drive";
import type { PaymentRow } from "./db/schema";
import type { PaymentModel } from "./model";
import type { ApplyEvent, LoadPayment } from "./service";

export interface OperatorDeps {
  /** The payment service's own steps: read a payment, apply one event, drive it on. */
  load: LoadPayment;
  apply: ApplyEvent;
  drive: BankDrive["drive"];
}

export function createOperatorActions(deps: OperatorDeps) {
  const { load, apply, drive } = deps;

  async function mustLoad(id: string): Promise<PaymentRow> {
    const row = await load(id);
    if (!row) throw notFound(`Payment ${id} does not exist`);
    return row;
  }

  /** Pushes a payment along (authorize with the same key, then whatever follows); idempotent. */
  async function operatorAuthorize(paymentId: string): Promise<PaymentModel.AuthorizeResponse> {
    await mustLoad(paymentId);
    const row = (await drive(paymentId, "operator")) ?? (await mustLoad(paymentId));
    return { paymentId: row.id, holdId: row.holdId, status: row.status };
  }

  async function operatorCapture(body: PaymentModel.CaptureBody): Promise<PaymentModel.CaptureResponse> {
    const row = await mustLoad(body.paymentId);
    if (row.holdId !== body.holdId)
      throw conflict(
        row.holdId ? "The hold id does not belong to this payment" : "The payment is not authorized yet",
        "hold-mismatch",
      );
    const answer = (r: PaymentRow) => ({ paymentId: r.id, transferId: r.captureTransferId, status: r.status });
    if (row.status === "captured" || row.status === "refunding" || row.status === "refunded") return answer(row);
    if (row.cancelRequested)
      throw conflict("The payment was cancelled; it will be released, not captured", "cancelled");
    if (row.status !== "authorized" && row.status !== "capturing")
      throw conflict(`A ${row.status} payment cannot be captured`, "invalid-state");
    return answer((await drive(row.id, "operator")) ?? row);
  }

  async function operatorRelease(paymentId: string): Promise<PaymentModel.ReleaseResponse> {
    await mustLoad(paymentId);
    const result = await apply({ id: paymentId }, { type: "release_requested" }, "operator");
    if (result.outcome === "not_allowed")
      throw conflict(`${result.detail}; refund a captured payment instead`, "invalid-state");
    const row = (await drive(paymentId, "operator")) ?? (await mustLoad(paymentId));
    return { paymentId: row.id, status: row.status };
  }

  return { operatorAuthorize, operatorCapture, operatorRelease };
}
