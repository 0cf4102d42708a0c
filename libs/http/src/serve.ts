// Listening and graceful shutdown, shared by every main.ts: stop accepting, let in-flight
// requests finish, then close workers and connections in the order given.
import type { Logger } from "@careforall/log";
import { classifyUnavailable } from "@careforall/resilience";
import type { Elysia } from "elysia";

// Bodies over BODY_LIMIT_BYTES get a 413 problem from httpKit; this larger hard cap only stops
// Bun from buffering absurd uploads at all.
const HARD_BODY_LIMIT_BYTES = 1024 * 1024;

export interface ServeOptions {
  port: number;
  hostname: string;
  log: Logger;
  /** Run on SIGTERM/SIGINT after the server stops, in order (workers first, then pools). */
  onShutdown?: Array<() => Promise<unknown> | unknown>;
}

/** Any Elysia app, whatever its route types. */
// biome-ignore lint/suspicious/noExplicitAny: the app's generic parameters are irrelevant here
type AnyElysia = Elysia<any, any, any, any, any, any, any>;

/**
 * Starts accepting on `port` (0: any free one) and logs `service.listening`; returns the port bound.
 * No signal handlers: stopping is the caller's (`app.stop(false)` lets in-flight requests finish).
 */
export function listen(
  app: AnyElysia,
  { port, hostname, log }: Pick<ServeOptions, "port" | "hostname" | "log">,
): number {
  app.listen({ port, hostname, maxRequestBodySize: HARD_BODY_LIMIT_BYTES, idleTimeout: 30 });
  const bound = app.server?.port ?? port;
  log.info({ port: bound, hostname }, "service.listening");
  return bound;
}

export function serve(app: AnyElysia, { port, hostname, log, onShutdown = [] }: ServeOptions) {
  listen(app, { port, hostname, log });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "service.stopping");
    try {
      await app.stop(false);
      for (const step of onShutdown) await step();
    } catch (err) {
      log.error({ err }, "service.shutdown_failed");
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  guardProcess(log);
  return app;
}

/** A port nobody is listening on right now (launchers, tests and benches pick ports with it). */
export function freePort(): number {
  const server = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = server.port as number;
  server.stop(true);
  return port;
}

let guarded = false;

/**
 * A dependency's outage must not kill the process. With PostgreSQL stopped under load, a
 * connection error escaped every caller now and then (no frame of ours in its stack) and, unhandled,
 * took the bank or payment process down (partial-failures system test). Such an error is logged
 * and the process carries on — its pools and loops recover by themselves. Anything else unhandled
 * is a bug: logged as fatal, and the process exits, as it would without this handler.
 */
export function guardProcess(log: Logger): void {
  if (guarded) return;
  guarded = true;
  const onUnhandled = (kind: string) => (err: unknown) => {
    if (classifyUnavailable(err)) {
      log.warn({ err, kind }, "process.unhandled_dependency_error");
      return;
    }
    log.fatal({ err, kind }, "process.crashed");
    process.exit(1);
  };
  process.on("unhandledRejection", onUnhandled("unhandledRejection"));
  process.on("uncaughtException", onUnhandled("uncaughtException"));
}
