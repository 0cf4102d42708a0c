// The access log: one line per answered request — method, route template, status, duration,
// request id, trace id and span id (of the request's server span) — in the same JSON shape as every other line. It is written on the hot
// path (the gateway's cached read answers ~100k requests a second), so a line is built by hand,
// kept in a buffer and written in chunks (every FLUSH_MS, or at FLUSH_BYTES) instead of a
// serializer and a write per request.
import { writeSync } from "node:fs";
import type { Logger } from "pino";

export interface AccessLog {
  /** False when the level is above info: callers may skip measuring. */
  readonly enabled: boolean;
  /**
   * One answered request. Positional, so the hot path allocates nothing: the method, the route
   * template (never the raw path), the status, the duration, and the request id — which must be a
   * safe id as `requestIdFor` makes them (`[A-Za-z0-9_.:-]`), since it is written unquoted.
   */
  record(
    method: string,
    route: string,
    status: number,
    durationMs: number,
    requestId: string,
    traceId?: string,
    spanId?: string,
  ): void;
  /** Writes what is buffered now (shutdown, tests). */
  flush(): void;
}

const FLUSH_MS = 200;
const FLUSH_BYTES = 64 * 1024;
const INFO = 30;
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 99 };

export function createAccessLog(options: {
  service: string;
  level: string;
  /** Where chunks go; standard output by default. */
  sink?: (chunk: string) => void;
}): AccessLog {
  const enabled = (LEVELS[options.level] ?? INFO) <= INFO;
  const sink = options.sink ?? ((chunk: string) => writeSync(1, chunk));
  const head = `{"level":"info","time":"`;
  const service = `","service":${JSON.stringify(options.service)},"msg":"request","method":`;
  let buffer = "";
  // One ISO timestamp per millisecond, not per line.
  let stampedAt = 0;
  let stamp = "";
  let lastMethod = "";
  let lastRoute = "";
  let prefix = "";
  const flush = () => {
    if (buffer.length === 0) return;
    const chunk = buffer;
    buffer = "";
    try {
      sink(chunk);
    } catch {
      // A closed stdout must not take a request down with it.
    }
  };
  if (enabled) {
    setInterval(flush, FLUSH_MS).unref();
    process.once("exit", flush);
  }
  // `"method":"GET","route":"/api/campaigns/:id","status":` once per method and route.
  const middles = new Map<string, string>();
  const middle = (method: string, route: string): string => {
    const key = `${method} ${route}`;
    let text = middles.get(key);
    if (text === undefined) {
      text = `${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":`;
      if (middles.size < 1_000) middles.set(key, text);
    }
    return text;
  };
  return {
    enabled,
    flush,
    record(method, route, status, durationMs, requestId, traceId, spanId) {
      if (!enabled) return;
      const now = Date.now();
      // Everything before the status changes once a millisecond or with the route: built once.
      if (now !== stampedAt || method !== lastMethod || route !== lastRoute) {
        if (now !== stampedAt) {
          stampedAt = now;
          stamp = new Date(now).toISOString();
        }
        lastMethod = method;
        lastRoute = route;
        prefix = `${head}${stamp}${service}${middle(method, route)}`;
      }
      buffer += `${prefix}${status},"durationMs":${Math.round(durationMs * 100) / 100},"requestId":"${requestId}"${traceId ? `,"traceId":"${traceId}"` : ""}${spanId ? `,"spanId":"${spanId}"` : ""}}\n`;
      if (buffer.length >= FLUSH_BYTES) flush();
    },
  };
}

const byLogger = new WeakMap<Logger, AccessLog>();

/** The access log of a service's logger (its name and level): one per logger, shared by its users. */
export function accessLogFor(log: Logger): AccessLog {
  let access = byLogger.get(log);
  if (!access) {
    const service = String((log.bindings() as { service?: unknown }).service ?? "unknown");
    access = createAccessLog({ service, level: log.level });
    byLogger.set(log, access);
  }
  return access;
}
