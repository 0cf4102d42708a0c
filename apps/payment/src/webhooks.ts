// Bank webhooks (POST /payments/webhook): verify the signature on the raw bytes (400, no effect),
// check each event against its payment, dedupe by event id in the inbox, apply through the machine.
import type { Clock } from "@careforall/config";
import { badRequest, serviceUnavailable } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { BankClient } from "./bank-client";
import type { PaymentConfig } from "./config";
import type { PaymentRow } from "./db/schema";
import { type BankWebhook, checkWebhook, followUp, type PaymentEvent, parseWebhook, webhookEvent } from "./domain";
import type { PaymentMetrics } from "./metrics";
import type { ApplyResult, PaymentDb, WebhookVerifier } from "./service";

export const WEBHOOK_TOLERANCE_SECONDS = 300;
const MAX_WEBHOOK_BYTES = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WebhookHandlerDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  config: Pick<PaymentConfig, "WEBHOOK_SECRET">;
  log: Logger;
  metrics: PaymentMetrics;
  verifyWebhookSignature: WebhookVerifier;
  /** The inbox consumer name webhook event ids are recorded under. */
  inboxConsumer: string;
  /** The payment service's own steps: read a payment, apply one event (with inbox dedupe), drive in the background. */
  load: (id: string) => Promise<PaymentRow | undefined>;
  apply: (
    target: { id: string },
    event: PaymentEvent,
    cause: string,
    dedupe?: { consumer: string; eventId: string },
  ) => Promise<ApplyResult>;
  driveLater: (id: string, cause: string) => void;
}

export function createWebhookHandler(deps: WebhookHandlerDeps) {
  const { bank, clock, config, log, metrics, load, apply, driveLater } = deps;

  /**
   * Checks a signed webhook against the payment; while the payment has no hold yet, asks the bank
   * what it did under this payment's key. An unreachable bank is a 503, so the bank retries later.
   */
  async function webhookConfirmed(webhook: BankWebhook, payment: PaymentRow): Promise<boolean> {
    const check = checkWebhook(webhook, payment);
    if (check !== "confirm_with_bank") return check === "match";
    const known = await bank.holdByKey(payment.id);
    if (known.kind === "unknown") throw serviceUnavailable("The bank cannot confirm this event right now");
    if (known.kind === "rejected") return false;
    return webhook.type === "hold.failed"
      ? known.value.status === "failed"
      : known.value.holdId !== null && known.value.holdId === webhook.data.holdId;
  }

  /** A signed bank event: verify (400, no effect), dedupe by event id, apply through the machine. */
  async function handleWebhook(rawBody: string, signature: string | null | undefined): Promise<{ applied: boolean }> {
    if (rawBody.length > MAX_WEBHOOK_BYTES) throw badRequest("The webhook body is too large");
    const nowSeconds = Math.floor(clock.now() / 1000);
    if (
      !signature ||
      !deps.verifyWebhookSignature(config.WEBHOOK_SECRET, signature, rawBody, nowSeconds, WEBHOOK_TOLERANCE_SECONDS)
    ) {
      log.warn({ present: Boolean(signature) }, "payment.webhook_bad_signature");
      throw badRequest("Missing, invalid or stale Bank-Signature", [
        { path: "bank-signature", message: "Expected a fresh t=<unix>,v1=<hmac> signature of the raw body" },
      ]);
    }
    const webhook = parseWebhook(rawBody);
    if (!webhook) throw badRequest("The webhook body is not a bank event");
    const event = webhookEvent(webhook);
    if (!event || !UUID.test(webhook.data.paymentRef)) {
      log.warn({ webhookId: webhook.id, type: webhook.type }, "payment.webhook_ignored");
      return { applied: false };
    }
    const payment = await load(webhook.data.paymentRef);
    if (!payment) {
      log.warn({ webhookId: webhook.id, paymentRef: webhook.data.paymentRef }, "payment.webhook_unknown_payment");
      return { applied: false };
    }
    if (!(await webhookConfirmed(webhook, payment))) {
      log.warn({ webhookId: webhook.id, paymentId: payment.id, type: webhook.type }, "payment.webhook_mismatch");
      metrics.webhookMismatches.inc();
      return { applied: false };
    }
    const result = await apply({ id: webhook.data.paymentRef }, event, `webhook:${webhook.id}`, {
      consumer: deps.inboxConsumer,
      eventId: webhook.id,
    });
    switch (result.outcome) {
      case "duplicate":
        metrics.webhookDuplicates.inc();
        return { applied: false };
      case "missing":
        log.warn({ webhookId: webhook.id, paymentRef: webhook.data.paymentRef }, "payment.webhook_unknown_payment");
        return { applied: false };
      case "stale":
      case "not_allowed":
        return { applied: false };
      case "applied":
        if (followUp(result.decision.effects)) driveLater(result.payment.id, `webhook:${webhook.id}`);
        return { applied: true };
    }
  }

  return handleWebhook;
}
