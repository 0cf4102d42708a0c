// Pushes to live clients through the fan-out, always after the transaction that stored what they
// announce has committed (the fan-out is lossy by design: what must not be lost is stored first),
// counted by topic kind; and the service's counters of stored notifications by kind.
import type { Fanout } from "@careforall/bus";
import type { HttpMetrics } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { type Push, topicKind } from "./domain";

export interface NotificationMetrics {
  stored: { inc(labels: { kind: string }, value?: number): void };
  pushes: { inc(labels: { topic: string }, value?: number): void };
}

const registered = new WeakMap<HttpMetrics, NotificationMetrics>();

/** Registers the counters once per registry (the app and the consumer share them). */
export function notificationMetrics(metrics: HttpMetrics): NotificationMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;
  const created: NotificationMetrics = {
    stored: metrics.counter("careforall_notifications_stored_total", "Notifications stored, by kind", ["kind"]),
    pushes: metrics.counter(
      "careforall_notification_pushes_total",
      "Frames published on the fan-out, by topic kind (campaign, user, pledge, admins)",
      ["topic"],
    ),
  };
  registered.set(metrics, created);
  return created;
}

export const noopNotificationMetrics: NotificationMetrics = { stored: { inc() {} }, pushes: { inc() {} } };

/** Publishes committed pushes in order; a frame the fan-out cannot send is logged, never retried. */
export type Pusher = (pushes: readonly Push[]) => void;

export function createPusher(fanout: Fanout, metrics: NotificationMetrics, log: Logger): Pusher {
  return (pushes) => {
    for (const { topic, frame } of pushes) {
      if (fanout.publish(topic, frame)) metrics.pushes.inc({ topic: topicKind(topic) });
      else log.warn({ topic, type: frame.type }, "notification.push_failed");
    }
  };
}
