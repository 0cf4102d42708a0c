// What /metrics says about the WebSocket edge: sockets open, frames in (by op) and out (by type),
// error frames by code, closes by reason, the fan-out topics this process holds, and the delivery
// latency of the frames that carry their event's time (`at`: notifications, chat messages) — from
// that time to this gateway writing the frame to its sockets, once per frame, not per socket.
import type { HttpMetrics } from "@careforall/http";
import { Histogram } from "prom-client";
import type { RealtimeModel } from "./model";

export type CloseReason = "normal" | "going_away" | "too_big" | "rate_abuse" | "token_expired" | "abnormal" | "other";

/** Frames the fan-out carries, named by their topic's kind (their text is never parsed here). */
const FRAME_OF_TOPIC: Record<string, string> = {
  campaign: "campaign.totals",
  pledge: "pledge.status",
  chat: "chat.message",
  admins: "notification",
  user: "pledge.status|notification",
};

export function realtimeMetrics(metrics: HttpMetrics, live: { sockets(): number; topics(): number }) {
  metrics.gauge("careforall_gateway_ws_open_sockets", "WebSocket connections open on this gateway", () =>
    live.sockets(),
  );
  metrics.gauge(
    "careforall_gateway_ws_fanout_topics",
    "Fan-out topics this gateway listens to (one subscription each, whatever its sockets)",
    () => live.topics(),
  );
  const framesIn = metrics.counter("careforall_gateway_ws_frames_in_total", "Frames received from clients, by op", [
    "op",
  ]);
  const framesOut = metrics.counter("careforall_gateway_ws_frames_out_total", "Frames sent to clients, by type", [
    "type",
  ]);
  const errors = metrics.counter("careforall_gateway_ws_error_frames_total", "Error frames sent, by code", ["code"]);
  const closes = metrics.counter("careforall_gateway_ws_closes_total", "WebSocket connections closed, by reason", [
    "reason",
  ]);
  const delivery = new Histogram({
    name: "careforall_ws_delivery_seconds",
    help: "From an event's time (the frame's `at`) to this gateway pushing the frame to its sockets, by frame type",
    labelNames: ["type"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [metrics.registry],
  });
  return {
    frameIn: (op: string) => framesIn.labels(op).inc(),
    frameOut: (type: string, count = 1) => {
      if (count > 0) framesOut.labels(type).inc(count);
    },
    /** A fan-out frame written to `sockets` local sockets. */
    fanoutOut(topic: string, sockets: number, json?: string) {
      const kind = topic.slice(0, Math.max(0, topic.indexOf("."))) || topic;
      if (sockets <= 0) return;
      framesOut.labels(FRAME_OF_TOPIC[kind] ?? kind).inc(sockets);
      const at = json === undefined ? Number.NaN : frameTime(json);
      if (!Number.isNaN(at)) delivery.labels(frameType(json as string)).observe(Math.max(0, Date.now() - at) / 1000);
    },
    error: (code: RealtimeModel.ErrorCode) => {
      errors.labels(code).inc();
      framesOut.labels("error").inc();
    },
    close: (reason: CloseReason) => closes.labels(reason).inc(),
  };
}

export type RealtimeMetrics = ReturnType<typeof realtimeMetrics>;

const AT = '"at":"';
const TYPE = '"type":"';

/** The frame's `at` in ms (NaN when it has none), found without parsing the frame. */
export function frameTime(json: string): number {
  const i = json.indexOf(AT);
  if (i < 0) return Number.NaN;
  const end = json.indexOf('"', i + AT.length);
  return end < 0 ? Number.NaN : Date.parse(json.slice(i + AT.length, end));
}

/** The frame's `type` (the first key of every frame we publish), found without parsing the frame. */
function frameType(json: string): string {
  const i = json.indexOf(TYPE);
  if (i < 0) return "other";
  const end = json.indexOf('"', i + TYPE.length);
  return end < 0 ? "other" : json.slice(i + TYPE.length, end);
}

/** The reason label of a close Bun reports (`ours` when the gateway closed it itself). */
export function closeReason(code: number, reason: string, ours: CloseReason | null): CloseReason {
  if (ours) return ours;
  if (code === 1009 || /too big/i.test(reason)) return "too_big";
  if (code === 1000 || code === 1005) return "normal";
  if (code === 1001) return "going_away";
  if (code === 1006) return "abnormal";
  return "other";
}
