import { describe, expect, test } from "bun:test";
import { manualClock } from "@careforall/config";
import { createBreaker } from "@careforall/resilience";

function setup(openMs = 2_000) {
  const clock = manualClock(0);
  const changes: string[] = [];
  const breaker = createBreaker({ name: "redis", clock, openMs, onChange: (state) => changes.push(state) });
  const down = () => Promise.reject(new Error("ECONNREFUSED"));
  const up = () => Promise.resolve("ok");
  return { clock, changes, breaker, down, up };
}

describe("createBreaker", () => {
  test("closed: calls go through; a failure opens it and is rethrown", async () => {
    const { breaker, down, up, changes } = setup();
    expect(await breaker.run(up)).toBe("ok");
    await expect(breaker.run(down)).rejects.toThrow("ECONNREFUSED");
    expect(breaker.state()).toBe("open");
    expect(changes).toEqual(["open"]);
  });

  test("open: calls are refused without running them, with the time left until the next try", async () => {
    const { breaker, down, clock } = setup(2_000);
    await breaker.run(down).catch(() => {});
    clock.advance(500);
    let ran = false;
    const refused = await breaker
      .run(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(refused).toMatchObject({ name: "BreakerOpenError", dependency: "redis", retryAfterMs: 1_500 });
  });

  test("after openMs one trial call goes through (half-open); success closes it, once", async () => {
    const { breaker, down, up, clock, changes } = setup(2_000);
    await breaker.run(down).catch(() => {});
    clock.advance(2_000);
    expect(await breaker.run(up)).toBe("ok");
    expect(breaker.state()).toBe("closed");
    expect(await breaker.run(up)).toBe("ok");
    expect(changes).toEqual(["open", "closed"]);
  });

  test("only one trial at a time: while it runs, other calls are refused", async () => {
    const { breaker, down, clock } = setup(1_000);
    await breaker.run(down).catch(() => {});
    clock.advance(1_000);
    let release!: () => void;
    const trial = breaker.run(
      () =>
        new Promise<string>((r) => {
          release = () => r("trial");
        }),
    );
    await expect(breaker.run(() => Promise.resolve("other"))).rejects.toMatchObject({ name: "BreakerOpenError" });
    release();
    expect(await trial).toBe("trial");
  });

  test("a failed trial opens it again for another openMs, without a second 'open' transition", async () => {
    const { breaker, down, up, clock, changes } = setup(1_000);
    await breaker.run(down).catch(() => {});
    clock.advance(1_000);
    await expect(breaker.run(down)).rejects.toThrow("ECONNREFUSED");
    clock.advance(999);
    await expect(breaker.run(up)).rejects.toMatchObject({ name: "BreakerOpenError" });
    clock.advance(1);
    expect(await breaker.run(up)).toBe("ok");
    expect(changes).toEqual(["open", "closed"]);
  });

  test("failures that say nothing about the dependency (isFailure → false) leave it closed", async () => {
    const clock = manualClock(0);
    const breaker = createBreaker({
      name: "pg",
      clock,
      openMs: 1_000,
      isFailure: (err) => (err as Error).message !== "unique violation",
    });
    await expect(breaker.run(() => Promise.reject(new Error("unique violation")))).rejects.toThrow();
    expect(breaker.state()).toBe("closed");
  });

  test("with failureThreshold 3, it opens on the third failure in a row; a success in between resets the count", async () => {
    const clock = manualClock(0);
    const changes: string[] = [];
    const breaker = createBreaker({
      name: "pledge",
      clock,
      openMs: 1_000,
      failureThreshold: 3,
      onChange: (s) => changes.push(s),
    });
    const down = () => Promise.reject(new Error("timeout"));
    await breaker.run(down).catch(() => {});
    await breaker.run(down).catch(() => {});
    await breaker.run(() => Promise.resolve("ok"));
    await breaker.run(down).catch(() => {});
    await breaker.run(down).catch(() => {});
    expect(breaker.state()).toBe("closed");
    await breaker.run(down).catch(() => {});
    expect(breaker.state()).toBe("open");
    expect(changes).toEqual(["open"]);
    // After the pause a single failed trial is enough to open it again.
    clock.advance(1_000);
    await breaker.run(down).catch(() => {});
    await expect(breaker.run(() => Promise.resolve("x"))).rejects.toMatchObject({ name: "BreakerOpenError" });
  });
});
