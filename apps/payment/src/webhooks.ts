// Bank webhooks (POST /payments/webhook): one event `{ id, type, … }` or a batch `{ "events": [ … ] }`
// (1..100), signed as a whole. The signature is verified once on the raw bytes (400, no effect).
// Every referenced payment is read with one query; an event that only confirms what its payment
// already shows costs just its inbox row (one INSERT for all of them), and an event that carries
// news takes the per-event path: the bank's own records must bear it out (a signature proves the
// sender, not the fact), and what the bank says, not what the webhook says, is applied through the
// machine with inbox dedupe; then drive on. Each event applies at most
// once (invariants 1, 5); an unreachable bank is a 503, so the bank retries the whole batch.
import type { Clock } from "@careforall/config";
import { badRequest, isUuid, serviceUnavailable } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { recordInboxMany } from "@careforall/outbox";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { inArray } from "drizzle-orm";
import type { BankClient, BankOutcome } from "./bank-client";
import type { PaymentConfig } from "./config";
import { inbox, type PaymentRow, payments } from "./db/schema";
import {
  BankWebhook,
  checkAgainstAuthorize,
  confirmedByHold,
  fitsPayment,
  followUp,
  type PaymentEvent,
  transition,
  webhookEvent,
} from "./domain";
import type { PaymentMetrics } from "./metrics";
import type { PaymentModel } from "./model";
import type { ApplyResult, PaymentDb, WebhookVerifier } from "./service";

export const WEBHOOK_TOLERANCE_SECONDS = 300;
/** Events one batch may carry (API.md: 1..100). */
export const WEBHOOK_BATCH_MAX = 100;
const MAX_WEBHOOK_BYTES = 64 * 1024;
/** Payments whose news events are applied at once (each one's events in order, one after another). */
const CONCURRENT_PAYMENTS = 8;

const WebhookBatch = Type.Object({
  events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: WEBHOOK_BATCH_MAX }),
});

export type WebhookBody = { kind: "single"; event: BankWebhook } | { kind: "batch"; events: unknown[] };

/** The body's shape: one bank event, or a batch of them (each checked later); null when it is neither. */
export function parseWebhookBody(raw: string): WebhookBody | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (Value.Check(WebhookBatch, value)) return { kind: "batch", events: value.events };
  if (Value.Check(BankWebhook, value)) return { kind: "single", event: value };
  return null;
}

/**
 * True when the payment already reflects this event: same hold, amount and currency, and the
 * machine finds it stale. Payments only move forward and a bank event stale in one state is stale
 * in every later one, so applying it could only record its inbox row; that is all it costs here.
 * A payment still authorizing knows nothing yet: everything is news to it.
 */
export function alreadyKnown(webhook: BankWebhook, event: PaymentEvent, payment: PaymentRow): boolean {
  if (payment.status === "authorizing") return false;
  const { data } = webhook;
  if (data.amountMinor !== payment.amountMinor || data.currency !== payment.currency) return false;
  if (data.holdId !== payment.holdId) return false;
  const decision = transition(payment, event);
  return !decision.ok && decision.reason === "stale";
}

export interface WebhookHandlerDeps {
  db: PaymentDb;
  bank: BankClient;
  clock: Clock;
  config: Pick<PaymentConfig, "WEBHOOK_SECRET">;
  log: Logger;
  metrics: PaymentMetrics;
  verifyWebhookSignature: WebhookVerifier;
  /** Counts a rejected signature (the burst alarm, signature-alarm.ts); never throws. */
  onSignatureRejected?: () => Promise<void>;
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

/** What became of each event: it changed its payment, was already known (or a duplicate), or did not fit. */
type Outcome = "applied" | "known" | "ignored";

export function createWebhookHandler(deps: WebhookHandlerDeps) {
  const { db, bank, clock, config, log, metrics, load, apply, driveLater } = deps;

  /** A bank answer, or null when the bank definitely has no such thing; unknown is a 503 (the bank retries later). */
  function bankAnswer<T>(outcome: BankOutcome<T>): T | null {
    if (outcome.kind === "unknown") throw serviceUnavailable("The bank cannot confirm this event right now");
    return outcome.kind === "ok" ? outcome.value : null;
  }

  /**
   * What the bank's own records confirm of a signed webhook that carries news: the event to apply
   * (the bank's account of it, not the webhook's), or null when they do not bear it out. A
   * signature proves who sent it, not that it happened, and news is by definition something this
   * payment neither did nor saw: while it has no hold yet, the bank's stored answer under the
   * payment's key names the hold; then the hold itself says what became of it.
   */
  async function confirmWithBank(webhook: BankWebhook, payment: PaymentRow): Promise<PaymentEvent | null> {
    if (!fitsPayment(webhook, payment)) return null;
    let holdId = payment.holdId;
    if (holdId === null) {
      const answer = bankAnswer(await bank.holdByKey(payment.id));
      if (!answer) return null;
      const check = checkAgainstAuthorize(webhook, answer);
      if (check.kind === "refuted") return null;
      if (check.kind === "apply") return check.event;
      holdId = check.holdId;
    }
    const hold = bankAnswer(await bank.hold(holdId));
    return hold ? confirmedByHold(webhook, hold, payment) : null;
  }

  /** The per-event path for an event that may carry news: check, apply with inbox dedupe, drive on. */
  async function applyOne(webhook: BankWebhook, payment: PaymentRow): Promise<Outcome> {
    const event = await confirmWithBank(webhook, payment);
    if (!event) {
      log.warn({ webhookId: webhook.id, paymentId: payment.id, type: webhook.type }, "payment.webhook_mismatch");
      metrics.webhookMismatches.inc();
      return "ignored";
    }
    const result = await apply({ id: payment.id }, event, `webhook:${webhook.id}`, {
      consumer: deps.inboxConsumer,
      eventId: webhook.id,
    });
    switch (result.outcome) {
      case "duplicate":
        metrics.webhookDuplicates.inc();
        return "known";
      case "missing":
        log.warn({ webhookId: webhook.id, paymentRef: webhook.data.paymentRef }, "payment.webhook_unknown_payment");
        return "ignored";
      case "stale":
      case "not_allowed":
        return "known";
      case "applied":
        if (followUp(result.decision.effects)) driveLater(result.payment.id, `webhook:${webhook.id}`);
        return "applied";
    }
  }

  /** Runs `work` over `items` with at most `limit` at once; waits for all, then throws the first failure. */
  async function bounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const errors: unknown[] = [];
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        try {
          await work(item);
        } catch (err) {
          errors.push(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    if (errors.length > 0) throw errors[0];
  }

  /** Applies signed events (already verified): one read of their payments, one inbox insert for the known ones. */
  async function applyEvents(raw: unknown[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = new Array(raw.length).fill("ignored");
    const candidates: Array<{ i: number; webhook: BankWebhook; event: PaymentEvent }> = [];
    for (const [i, value] of raw.entries()) {
      if (!Value.Check(BankWebhook, value)) {
        log.warn({ index: i }, "payment.webhook_malformed_event");
        continue;
      }
      const event = webhookEvent(value);
      if (!event || !isUuid(value.data.paymentRef)) {
        log.warn({ webhookId: value.id, type: value.type }, "payment.webhook_ignored");
        continue;
      }
      candidates.push({ i, webhook: value, event });
    }
    if (candidates.length === 0) return outcomes;

    const ids = [...new Set(candidates.map((c) => c.webhook.data.paymentRef))];
    const rows = await db.select().from(payments).where(inArray(payments.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const known: typeof candidates = [];
    const news = new Map<string, typeof candidates>();
    for (const c of candidates) {
      const payment = byId.get(c.webhook.data.paymentRef);
      if (!payment) {
        log.warn({ webhookId: c.webhook.id, paymentRef: c.webhook.data.paymentRef }, "payment.webhook_unknown_payment");
      } else if (alreadyKnown(c.webhook, c.event, payment)) {
        known.push(c);
      } else {
        news.set(payment.id, [...(news.get(payment.id) ?? []), c]);
      }
    }

    // Confirmations: their inbox rows in one statement; an id already there is a duplicate.
    if (known.length > 0) {
      const recorded = await recordInboxMany(
        db,
        inbox,
        deps.inboxConsumer,
        known.map((c) => c.webhook.id),
      );
      for (const c of known) {
        outcomes[c.i] = "known";
        // A first-seen id counts once; its repeats in this batch and ids seen before are duplicates.
        if (!recorded.delete(c.webhook.id)) metrics.webhookDuplicates.inc();
      }
    }

    // News: per payment in batch order (the machine sees them as if sent alone), payments side by side.
    await bounded([...news.entries()], CONCURRENT_PAYMENTS, async ([paymentId, events]) => {
      let payment: PaymentRow | undefined = byId.get(paymentId);
      for (const [n, c] of events.entries()) {
        // After the first event the row may have moved (a hold now known): read it again.
        if (n > 0) payment = await load(paymentId);
        if (!payment) {
          log.warn({ webhookId: c.webhook.id, paymentRef: paymentId }, "payment.webhook_unknown_payment");
          continue;
        }
        outcomes[c.i] = await applyOne(c.webhook, payment);
      }
    });
    return outcomes;
  }

  /**
   * A signed bank event or batch of events: verify (400, no effect), then apply each event at most
   * once. A single event answers `{ applied: boolean }`; a batch answers how many events applied,
   * were already known (or duplicates) and were ignored (unknown payment, not fitting, malformed).
   */
  async function handleWebhook(
    rawBody: string,
    signature: string | null | undefined,
  ): Promise<PaymentModel.WebhookResponse> {
    if (rawBody.length > MAX_WEBHOOK_BYTES) throw badRequest("The webhook body is too large");
    const nowSeconds = Math.floor(clock.now() / 1000);
    if (
      !signature ||
      !deps.verifyWebhookSignature(config.WEBHOOK_SECRET, signature, rawBody, nowSeconds, WEBHOOK_TOLERANCE_SECONDS)
    ) {
      log.warn({ present: Boolean(signature) }, "payment.webhook_bad_signature");
      metrics.webhookSignatureFailures.inc();
      await deps.onSignatureRejected?.();
      throw badRequest("Missing, invalid or stale Bank-Signature", [
        { path: "bank-signature", message: "Expected a fresh t=<unix>,v1=<hmac> signature of the raw body" },
      ]);
    }
    const body = parseWebhookBody(rawBody);
    if (!body) throw badRequest("The webhook body is not a bank event or a batch of 1..100 of them");
    if (body.kind === "single") {
      const [outcome] = await applyEvents([body.event]);
      return { applied: outcome === "applied" };
    }
    const outcomes = await applyEvents(body.events);
    const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
    return { applied: count("applied"), known: count("known"), ignored: count("ignored"), events: outcomes.length };
  }

  return handleWebhook;
}
