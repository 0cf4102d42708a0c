import { describe, expect, test } from "bun:test";
import { createLogger } from "@careforall/log";
import { waitFor } from "@careforall/testkit";
import { createPollingLoop } from "@careforall/worker";

const quiet = createLogger({ service: "worker-test", level: "silent" });

describe("createPollingLoop", () => {
  test("runs at once, then every interval", async () => {
    let ticks = 0;
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 20,
      tick: async () => {
        ticks++;
        return false;
      },
    });
    loop.start();
    await waitFor(() => ticks >= 3, { what: "three ticks" });
    await loop.stop();
  });

  test("skips the sleep while a tick reports more work", async () => {
    let backlog = 50;
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 60_000,
      tick: async () => {
        backlog = Math.max(0, backlog - 10);
        return backlog > 0;
      },
    });
    loop.start();
    await waitFor(() => backlog === 0, { timeoutMs: 1000, what: "backlog drained without sleeping" });
    await loop.stop();
  });

  test("a kick wakes it early, even one that lands during a tick", async () => {
    let ticks = 0;
    let release: (() => void) | undefined;
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 60_000,
      tick: async () => {
        ticks++;
        if (ticks === 1)
          await new Promise<void>((r) => {
            release = r;
          });
        return false;
      },
    });
    loop.start();
    await waitFor(() => release !== undefined, { what: "first tick running" });
    loop.kick();
    release?.();
    await waitFor(() => ticks === 2, { timeoutMs: 1000, what: "the kick during the tick ran another" });
    loop.kick();
    await waitFor(() => ticks === 3, { timeoutMs: 1000, what: "a kick while sleeping wakes it" });
    await loop.stop();
  });

  test("a failed tick is logged and the loop carries on", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ service: "w", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
    let ticks = 0;
    const loop = createPollingLoop({
      name: "boom",
      log,
      intervalMs: 5,
      tick: async () => {
        ticks++;
        if (ticks === 1) throw new Error("db down");
        return false;
      },
    });
    loop.start();
    await waitFor(() => ticks >= 2, { what: "a tick after the failure" });
    await loop.stop();
    expect(lines.some((l) => l.msg === "boom.failed")).toBe(true);
  });

  test("stop waits for the tick in progress", async () => {
    let finished = false;
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 60_000,
      tick: async () => {
        await Bun.sleep(50);
        finished = true;
        return false;
      },
    });
    loop.start();
    await Bun.sleep(5);
    await loop.stop();
    expect(finished).toBe(true);
  });

  test("coalesceMs: a stream of kicks gives one tick per window, and a kick is still served after it", async () => {
    let ticks = 0;
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 60_000,
      coalesceMs: 400,
      tick: async () => {
        ticks++;
        return false;
      },
    });
    loop.start();
    await waitFor(() => ticks === 1, { what: "the first tick" });
    // 20 kicks over ~100 ms, all inside one window: at most one more tick for all of them.
    for (let i = 0; i < 20; i++) {
      loop.kick();
      await Bun.sleep(5);
    }
    expect(ticks).toBeLessThanOrEqual(2);
    await waitFor(() => ticks === 2, { what: "the coalesced tick" });
    await loop.stop();
  });

  test("coalesceMs: stop() does not wait out the window", async () => {
    const loop = createPollingLoop({
      name: "t",
      log: quiet,
      intervalMs: 60_000,
      coalesceMs: 60_000,
      tick: async () => false,
    });
    loop.start();
    loop.kick();
    await Bun.sleep(20);
    const started = Date.now();
    await loop.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
