// Structured JSON logging (pino). Every service logs with `service`; request and message
// handlers derive child loggers with `requestId` / `traceId`. Secrets never reach the output.
import pino, { type Logger, type LoggerOptions } from "pino";

export type { Logger };

/** Paths whose values are replaced with "[redacted]" wherever they appear in a log line. */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "cookie",
  "*.cookie",
  "password",
  "*.password",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "accountSecret",
  "*.accountSecret",
  "receiptToken",
  "*.receiptToken",
  "privateKey",
  "*.privateKey",
];

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
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that discards everything; for tests that do not inspect logs. */
export function silentLogger(service = "test"): Logger {
  return createLogger({ service, level: "silent" });
}
