// Structured JSON logging (pino). Every service logs with `service`; every line logged while a
// request or an event is handled carries its `requestId`, `traceId` and `spanId` (read from the
// active trace context, or set with withLogContext). Secrets never reach the output.
import { AsyncLocalStorage } from "node:async_hooks";
import { traceFields } from "@careforall/telemetry";
import pino, { type Logger, type LoggerOptions } from "pino";

export type { Logger };
export { type AccessLog, accessLogFor, createAccessLog } from "./access";
export { type PrettyOptions, prettyLine, prettyStream, wantsPrettyLogs } from "./pretty";

/** What every line logged while handling one request carries, in whichever module logs it. */
export interface LogContext {
  requestId?: string;
  traceId?: string;
  spanId?: string;
}
const logContext = new AsyncLocalStorage<LogContext>();
const NO_CONTEXT: LogContext = {};

/**
 * Every line logged in the rest of the current async chain (a request's handler, and whatever it
 * calls) carries `fields`. For framework hooks that run before a handler but cannot wrap it.
 */
export function enterLogContext(fields: LogContext): void {
  logContext.enterWith(fields);
}

/**
 * The request the current async chain is handling, if any: the fields entered with
 * enterLogContext / withLogContext, completed by the active trace context (request id, trace id,
 * span id — the innermost span's).
 */
export function currentLogContext(): LogContext | undefined {
  const store = logContext.getStore();
  const traced = traceFields();
  if (!traced) return store;
  return store ? { ...store, ...traced } : traced;
}

/** Runs `fn` with every line it logs carrying `fields`. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return logContext.run(fields, fn);
}

/** Keys whose values are replaced with "[redacted]" wherever they appear in a log line (up to REDACT_DEPTH). */
export const REDACT_KEYS: ReadonlySet<string> = new Set([
  "authorization",
  "cookie",
  "password",
  "accessToken",
  "refreshToken",
  "token",
  "secret",
  "accountSecret",
  "receiptToken",
  "privateKey",
]);
const REDACT_DEPTH = 4;
const CENSOR = "[redacted]";

const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null &&
  typeof v === "object" &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * A copy of `obj` with every sensitive key censored, nested plain objects included; the caller's
 * object is never changed and is returned as it is when there is nothing to hide (the common
 * case costs one look at each key). pino's own path-based redaction with wildcards cost ~20 µs
 * a line, more than the rest of the line.
 */
export function redact(obj: Record<string, unknown>, depth = REDACT_DEPTH): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    const value = obj[key];
    let next = value;
    if (REDACT_KEYS.has(key)) next = CENSOR;
    else if (depth > 1 && isPlain(value)) next = redact(value, depth - 1);
    if (next !== value) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}

export interface CreateLoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a buffer stream. */
  destination?: pino.DestinationStream;
}

export function createLogger({ service, level = "info", destination }: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (object) => redact(object) },
    // The request a line belongs to, wherever it is logged from (see currentLogContext).
    mixin: () => currentLogContext() ?? NO_CONTEXT,
    // pino's default merge writes the line's fields INTO the mixin's object: that is the shared
    // context (or NO_CONTEXT), so every field would stick to every later line. A fresh object each line.
    mixinMergeStrategy: (fields, context) => ({ ...context, ...fields }),
    // Child bindings do not pass through formatters.log; top-level serializers reach them too.
    serializers: Object.fromEntries([...REDACT_KEYS].map((key) => [key, () => CENSOR])),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that discards everything; for tests that do not inspect logs. */
export function silentLogger(service = "test"): Logger {
  return createLogger({ service, level: "silent" });
}
