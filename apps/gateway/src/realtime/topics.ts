// The process's side of the fan-out: ONE listener per topic however many local sockets want it,
// held while at least one does (reference counted: subscribed on the first, unsubscribed on the
// last). Its listener hands the frame's JSON text, unparsed, to Bun's server.publish, which writes
// it to every socket that ws.subscribe()d the topic — nothing per socket crosses NATS. While spans
// are recorded each frame fanned out is one span (not one per socket), in the trace of what
// caused it when the publisher was traced (a donation's totals, its pledge status).
import type { Fanout } from "@careforall/bus";
import { SpanKind, startSpan } from "@careforall/telemetry";

/** Bun's server.publish for the listening server (0 when nothing was sent, e.g. not listening). */
export type LocalPublish = (topic: string, json: string) => number;

export interface TopicHub {
  /**
   * One more local socket wants `topic`. Resolves once the fan-out subscription is in force at the
   * server (a new one is flushed: NATS has processed it), so a frame answered after it — a pong, the
   * current totals — promises that whatever is published from then on reaches this socket.
   */
  acquire(topic: string): Promise<void>;
  /** One socket less; the last one gives the fan-out subscription back. */
  release(topic: string): void;
  /** Topics this process listens to on the fan-out now. */
  size(): number;
  /** Sockets holding `topic` (0 when none). */
  holders(topic: string): number;
}

export function createTopicHub(
  fanout: Fanout,
  publish: LocalPublish,
  onFrame?: (topic: string, json: string) => void,
): TopicHub {
  const held = new Map<string, { sockets: number; unsubscribe: () => void; ready: Promise<void> }>();
  return {
    acquire(topic) {
      const entry = held.get(topic);
      if (entry) {
        entry.sockets++;
        return entry.ready;
      }
      const kind = topic.slice(0, topic.indexOf(".") >>> 0);
      const unsubscribe = fanout.subscribe(topic, (json) => {
        const span = startSpan(`ws.push ${kind}`, {
          kind: SpanKind.PRODUCER,
          attributes: { "messaging.system": "websocket", "messaging.destination.name": topic },
        });
        const sent = publish(topic, json);
        onFrame?.(topic, json);
        if (span) {
          span.setAttributes({ "ws.sockets": held.get(topic)?.sockets ?? 0, "ws.bytes_sent": sent });
          span.end();
        }
      });
      // A fan-out that cannot flush (NATS away) still holds the subscription: it is resent on reconnect.
      const ready = fanout.flush().catch(() => {});
      held.set(topic, { sockets: 1, unsubscribe, ready });
      return ready;
    },
    release(topic) {
      const entry = held.get(topic);
      if (!entry) return;
      if (--entry.sockets > 0) return;
      held.delete(topic);
      entry.unsubscribe();
    },
    size: () => held.size,
    holders: (topic) => held.get(topic)?.sockets ?? 0,
  };
}
