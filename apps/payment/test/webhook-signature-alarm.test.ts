// A burst of rejected webhook signatures raises ONE payment.webhook_signature_failures event
// through the outbox per window that crosses the threshold, not one per failure: the pure sliding
// window, then the service over a real database with the default settings (5 in 60 s).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "@careforall/bus";
import type { WebhookSignatureFailures } from "@careforall/events";
import { eq } from "drizzle-orm";
import { outbox } from "../src/db/schema";
import { createSignatureWindow } from "../src/domain";
import { startPaymentTestApp } from "./support";

describe("the sliding window", () => {
  const run = (times: number[], threshold = 3, windowMs = 1000) => {
    const window = createSignatureWindow({ threshold, windowMs });
    return times.map((t) => window.record(t));
  };

  test("the failure that brings the window to the threshold raises the alarm, with the window's figures", () => {
    expect(run([0, 100, 200])).toEqual([null, null, { failures: 3, firstAt: 0, lastAt: 200 }]);
  });

  test("failures spread wider than the window never add up", () => {
    expect(run([0, 600, 1200, 1800, 2400]).every((a) => a === null)).toBe(true);
  });

  test("a sustained burst raises one alarm per window, not one per failure", () => {
    const times = Array.from({ length: 40 }, (_, i) => i * 100); // 10 a second for 4 s
    const alarms = run(times).filter((a) => a !== null);
    expect(alarms.map((a) => a!.lastAt)).toEqual([200, 1200, 2200, 3200]);
  });

  test("after a quiet spell a new burst alarms again", () => {
    const alarms = run([0, 1, 2, 3, 4, 10_000, 10_001, 10_002]).filter((a) => a !== null);
    expect(alarms.map((a) => a!.firstAt)).toEqual([0, 10_000]);
  });

  test("memory stays bounded under a flood", () => {
    const window = createSignatureWindow({ threshold: 1_000_000, windowMs: 60_000, maxKept: 100 });
    for (let i = 0; i < 10_000; i++) window.record(i);
    const alarm = createSignatureWindow({ threshold: 100, windowMs: 60_000, maxKept: 100 });
    let raised = null;
    for (let i = 0; i < 1000 && !raised; i++) raised = alarm.record(i);
    expect(raised?.failures).toBe(100);
  });
});

describe("POST /payments/webhook with bad signatures", () => {
  let h: Awaited<ReturnType<typeof startPaymentTestApp>>;
  beforeAll(async () => {
    h = await startPaymentTestApp();
  });
  afterAll(() => h.stop());

  const alarms = async () =>
    (await h.db.select().from(outbox).where(eq(outbox.type, "payment.webhook_signature_failures"))).map(
      (r) => r.envelope as EventEnvelope<WebhookSignatureFailures>,
    );
  const forged = (i: number) => h.webhook(JSON.stringify({ id: `evt_${i}` }), i % 2 === 0 ? "t=1,v1=00" : null);

  test("four rejections are not an alarm; the fifth within 60 s writes one event, the next twenty none", async () => {
    const start = h.clock.now();
    for (let i = 0; i < 4; i++) {
      expect((await forged(i)).status).toBe(400);
      h.clock.advance(1000);
    }
    expect(await alarms()).toEqual([]);
    const commitsBefore = h.commits();
    expect((await forged(4)).status).toBe(400);
    const [first] = await alarms();
    expect(first!.data).toEqual({
      failures: 5,
      windowSeconds: 60,
      firstAt: new Date(start).toISOString(),
      lastAt: new Date(start + 4000).toISOString(),
    });
    expect(h.commits()).toBe(commitsBefore + 1); // the relay is kicked
    for (let i = 5; i < 25; i++) expect((await forged(i)).status).toBe(400);
    expect(await alarms()).toHaveLength(1);
  });

  test("a burst still going a window later writes one more event; correctly signed calls count for nothing", async () => {
    h.clock.advance(60_000);
    // Signed by the bank's secret (rejected for their body, not their signature): no alarm.
    for (let i = 0; i < 10; i++) expect((await h.webhook(JSON.stringify({ id: `ok_${i}` }))).status).toBe(400);
    for (let i = 0; i < 4; i++) await forged(i);
    expect(await alarms()).toHaveLength(1);
    await forged(4);
    expect(await alarms()).toHaveLength(2);
  });
});
