// The alarm on a burst of rejected webhook signatures (someone forging the bank, or a secret out of
// step): each rejection is counted in the sliding window (domain/signature-window.ts); when the
// window crosses WEBHOOK_SIGNATURE_ALARM_THRESHOLD, one payment.webhook_signature_failures event is
// written through the outbox in its own small transaction, and the notification service tells the
// admins. Writing it never turns the caller's 400 into anything else: a failure is logged.
import type { Clock } from "@careforall/config";
import { WebhookSignatureFailures } from "@careforall/events";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent } from "@careforall/outbox";
import { outbox } from "./db/schema";
import { createSignatureWindow } from "./domain";
import type { PaymentDb } from "./service";

/** Defaults, as in the config schema, for a service built without those settings. */
export const SIGNATURE_ALARM_DEFAULTS = { threshold: 5, windowSeconds: 60 };

export interface SignatureAlarmDeps {
  db: PaymentDb;
  clock: Clock;
  log: Logger;
  threshold: number;
  windowSeconds: number;
  onCommitted?: (() => void) | undefined;
}

export function createSignatureAlarm({ db, clock, log, threshold, windowSeconds, onCommitted }: SignatureAlarmDeps) {
  const window = createSignatureWindow({ threshold, windowMs: windowSeconds * 1000 });
  /** Counts one rejected signature; writes the alarm event when the window crosses the threshold. */
  return async function signatureRejected(): Promise<void> {
    const alarm = window.record(clock.now());
    if (!alarm) return;
    const data = {
      failures: alarm.failures,
      windowSeconds,
      firstAt: new Date(alarm.firstAt).toISOString(),
      lastAt: new Date(alarm.lastAt).toISOString(),
    };
    try {
      await db.transaction((tx) =>
        enqueue(tx, outbox, newEvent(WebhookSignatureFailures.type, "webhook-signatures", data, clock)),
      );
      onCommitted?.();
      log.warn(data, "payment.webhook_signature_alarm");
    } catch (err) {
      log.error({ err, ...data }, "payment.webhook_signature_alarm_failed");
    }
  };
}
