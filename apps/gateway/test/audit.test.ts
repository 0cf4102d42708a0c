import { describe, expect, test } from "bun:test";
import { createMemoryBus, type EventEnvelope } from "@careforall/bus";
import { systemClock } from "@careforall/config";
import { AuditCompleted } from "@careforall/events";
import { silentLogger } from "@careforall/log";
import { currentTraceId, initTelemetry, requestIdOf } from "@careforall/telemetry";
import { waitFor } from "@careforall/testkit";
import { Value } from "@sinclair/typebox/value";
import { type AuditReport, compareLedgers } from "../src/domain/audit";
import { auditCompletedEvent, createAuditLoop } from "../src/workers/audit-loop";

const now = new Date("2026-11-25T12:00:00Z");

describe("compareLedgers", () => {
  test("agreeing sources give zero drift", () => {
    const report = compareLedgers(
      [{ campaignId: "a", raisedMinor: 500 }],
      [{ campaignId: "a", capturedMinusRefundedMinor: 500 }],
      new Map([["a", 500]]),
      0,
      now,
    );
    expect(report).toEqual({
      campaigns: [
        { campaignId: "a", raisedMinor: 500, capturedMinusRefundedMinor: 500, bankBalanceMinor: 500, driftMinor: 0 },
      ],
      totalDriftMinor: 0,
      stuckPledges: 0,
      checkedAt: now.toISOString(),
    });
  });

  test("a total that disagrees with the pledges, or pledges that disagree with the bank, is drift", () => {
    const report = compareLedgers(
      [
        { campaignId: "a", raisedMinor: 700 },
        { campaignId: "b", raisedMinor: 100 },
      ],
      [
        { campaignId: "a", capturedMinusRefundedMinor: 500 },
        { campaignId: "b", capturedMinusRefundedMinor: 100 },
      ],
      new Map([
        ["a", 500],
        ["b", 40],
      ]),
      3,
      now,
    );
    expect(report.campaigns.map((c) => [c.campaignId, c.driftMinor])).toEqual([
      ["a", 200],
      ["b", 60],
    ]);
    expect(report.totalDriftMinor).toBe(260);
    expect(report.stuckPledges).toBe(3);
  });

  test("a campaign missing from a source counts as zero there (money without a total is drift)", () => {
    const report = compareLedgers([], [], new Map([["ghost", 250]]), 0, now);
    expect(report.campaigns).toEqual([
      { campaignId: "ghost", raisedMinor: 0, capturedMinusRefundedMinor: 0, bankBalanceMinor: 250, driftMinor: 250 },
    ]);
    const quiet = compareLedgers([{ campaignId: "new", raisedMinor: 0 }], [], new Map(), 0, now);
    expect(quiet.totalDriftMinor).toBe(0);
  });
});

describe("auditCompletedEvent", () => {
  test("an audit.completed envelope listing only the drifting campaigns, valid against the event's schema", () => {
    const report = compareLedgers(
      [
        { campaignId: "a", raisedMinor: 700 },
        { campaignId: "b", raisedMinor: 100 },
      ],
      [
        { campaignId: "a", capturedMinusRefundedMinor: 500 },
        { campaignId: "b", capturedMinusRefundedMinor: 100 },
      ],
      new Map([
        ["a", 500],
        ["b", 100],
      ]),
      2,
      now,
    );
    const clock = { now: () => now.getTime(), date: () => now };
    const event = auditCompletedEvent(report, clock);
    expect(event).toMatchObject({
      type: "audit.completed",
      occurredAt: now.toISOString(),
      data: {
        checkedAt: now.toISOString(),
        totalDriftMinor: 200,
        drifting: [{ campaignId: "a", driftMinor: 200 }],
        stuckPledges: 2,
      },
    });
    expect(Value.Check(AuditCompleted.schema, event.data)).toBe(true);
    const clean = auditCompletedEvent(compareLedgers([], [], new Map(), 0, now), clock);
    expect(clean.data.drifting).toEqual([]);
  });
});

/**
 * Runs the background audit with `run` as its auditor on a memory bus until it has published two
 * audit.completed events; `onPublished` sees each of them in its consumer's context.
 */
async function auditTwice(
  run: (requestId: string) => Promise<AuditReport>,
  onPublished: (event: EventEnvelope) => void,
): Promise<void> {
  const log = silentLogger();
  const bus = createMemoryBus({ log });
  let published = 0;
  await bus.subscribe({
    types: [AuditCompleted.type],
    handler: async (event) => {
      published++;
      onPublished(event);
    },
  });
  const loop = createAuditLoop({ auditor: { run }, bus, clock: systemClock, log, intervalMs: 10 });
  loop.start();
  try {
    await waitFor(() => published >= 2, { what: "two audit.completed events" });
  } finally {
    await loop.stop();
    await bus.close();
  }
}

describe("the background audit", () => {
  test("each run is published on the bus as audit.completed", async () => {
    const seen: EventEnvelope[] = [];
    const report = compareLedgers([{ campaignId: "a", raisedMinor: 900 }], [], new Map(), 1, now);
    let runs = 0;
    await auditTwice(
      async () => {
        runs++;
        return report;
      },
      (event) => seen.push(event),
    );
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(seen[0]?.data).toEqual({
      checkedAt: now.toISOString(),
      totalDriftMinor: 900,
      drifting: [{ campaignId: "a", driftMinor: 900 }],
      stuckPledges: 1,
    });
  });

  test("each run is one trace with one request id: the audit's calls and its event carry them", async () => {
    initTelemetry({ service: "gateway-audit-test" });
    const published: Array<{ traceId: string | undefined; requestId: string | undefined }> = [];
    const runs: Array<{ given: string; traceId: string | undefined; requestId: string | undefined }> = [];
    await auditTwice(
      async (requestId) => {
        runs.push({ given: requestId, traceId: currentTraceId(), requestId: requestIdOf() });
        return compareLedgers([], [], new Map(), 0, now);
      },
      () => published.push({ traceId: currentTraceId(), requestId: requestIdOf() }),
    );
    const [first, second] = runs;
    expect(first?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(first?.requestId).toBe(first?.given);
    expect(second?.traceId).not.toBe(first?.traceId);
    expect(published[0]).toEqual({ traceId: first?.traceId, requestId: first?.given });
  });
});
