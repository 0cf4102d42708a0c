// Chaos at the HTTP edge of the money-moving routes (`faults: true`): latency and a 503 before
// anything happens, and a "lost response" after the work has committed, so the caller cannot
// know it happened. Plus GET/PUT /bank/faults to read and change the knobs at run time.
import { AppError, type authGuard, Problem, serviceCallers, serviceUnavailable } from "@careforall/http";
import { Elysia } from "elysia";
import { fires, lostResponseStatus, type Random } from "../domain";
import type { FaultStore } from "../faults";
import type { BankMetrics } from "../metrics";
import { BankModel } from "../model";

export interface FaultInjectionDeps {
  faults: FaultStore;
  random: Random;
  sleep: (ms: number) => Promise<unknown>;
  metrics: BankMetrics;
}

export function faultInjection({ faults, random, sleep, metrics }: FaultInjectionDeps) {
  return new Elysia({ name: "bank-fault-injection" }).macro({
    faults: {
      async beforeHandle() {
        const knobs = faults.current();
        if (knobs.latencyMs > 0) {
          metrics.fault("latency");
          await sleep(knobs.latencyMs);
        }
        if (fires(knobs.errorRate, random)) {
          metrics.fault("error");
          throw serviceUnavailable("Injected fault: the bank is unavailable; nothing was done");
        }
      },
      afterHandle() {
        if (!fires(faults.current().lostResponseRate, random)) return;
        metrics.fault("lost_response");
        const status = lostResponseStatus(random);
        // The handler has committed; only the answer is lost.
        throw new AppError({
          status,
          code: "lost-response",
          title: status === 502 ? "Bad gateway" : "Internal server error",
          detail: "Injected fault: the response was lost",
        });
      },
    },
  });
}

const detail = (summary: string) => ({ tags: ["bank-operations"], summary });

/** The knobs are an operator's: only the gateway calls, for an administrator. */
export function faultRoutes({ faults, guard }: { faults: FaultStore; guard: ReturnType<typeof authGuard> }) {
  return new Elysia({ prefix: "/bank/faults" })
    .use(serviceCallers)
    .use(guard)
    .get("", () => faults.refresh(), {
      callers: ["gateway"],
      admin: true,
      response: { 200: BankModel.Faults },
      detail: detail("Read the chaos knobs"),
    })
    .put("", ({ body }) => faults.update(body), {
      callers: ["gateway"],
      admin: true,
      parse: "json",
      body: BankModel.FaultsPatch,
      response: { 200: BankModel.Faults, 400: Problem },
      detail: detail("Change chaos knobs (rates 0..1); omitted fields keep their value"),
    });
}
