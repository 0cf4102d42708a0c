import { describe, expect, test } from "bun:test";
import { createGroupCommit } from "@careforall/db";
import { classifyUnavailable, DependencyTimeoutError } from "@careforall/resilience";

/** A run function whose batches are released by hand, recording what each batch held. */
function manualRun<I>() {
  const batches: I[][] = [];
  const releases: Array<(fail?: Error) => void> = [];
  const run = (items: I[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push([...items]);
      releases.push((fail) => (fail ? reject(fail) : resolve(items.map((i) => `done:${String(i)}`))));
    });
  return { batches, releases, run };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("createGroupCommit", () => {
  test("an item alone goes at once, in a batch of its own", async () => {
    const m = manualRun<number>();
    const group = createGroupCommit({ run: m.run, concurrency: 2, maxBatch: 10 });
    const p = group.submit(1);
    await tick();
    expect(m.batches).toEqual([[1]]);
    m.releases[0]?.();
    expect(await p).toBe("done:1");
  });

  test("while every slot is busy, arrivals wait and leave together in one batch", async () => {
    const m = manualRun<number>();
    const group = createGroupCommit({ run: m.run, concurrency: 1, maxBatch: 10 });
    const first = group.submit(1);
    await tick();
    const rest = [2, 3, 4].map((i) => group.submit(i));
    await tick();
    expect(m.batches).toEqual([[1]]); // the slot is taken: 2, 3, 4 wait
    m.releases[0]?.();
    await first;
    await tick();
    expect(m.batches).toEqual([[1], [2, 3, 4]]);
    m.releases[1]?.();
    expect(await Promise.all(rest)).toEqual(["done:2", "done:3", "done:4"]);
  });

  test("no batch holds more than maxBatch items, and at most `concurrency` run at once", async () => {
    const m = manualRun<number>();
    const group = createGroupCommit({ run: m.run, concurrency: 2, maxBatch: 3 });
    const all = Array.from({ length: 11 }, (_, i) => group.submit(i));
    await tick();
    // Two slots: the first two submissions each found a free slot; the other nine wait.
    expect(m.batches).toEqual([[0], [1]]);
    expect(group.stats()).toEqual({ running: 2, waiting: 9 });
    while (m.releases.length > 0) {
      m.releases.shift()?.();
      await tick();
      await tick();
    }
    expect(m.batches.every((b) => b.length <= 3)).toBe(true);
    expect(m.batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(await Promise.all(all)).toEqual(Array.from({ length: 11 }, (_, i) => `done:${i}`));
  });

  test("a failed batch is retried item by item, so one bad item fails alone", async () => {
    const calls: number[][] = [];
    const group = createGroupCommit<number, number>({
      concurrency: 1,
      maxBatch: 10,
      run: async (items) => {
        calls.push([...items]);
        if (items.includes(13)) throw new Error("poison");
        return items.map((i) => i * 10);
      },
    });
    const blocker = group.submit(0); // takes the only slot, so the next three form one batch
    const results = Promise.allSettled([12, 13, 14].map((i) => group.submit(i)));
    await blocker;
    const settled = await results;
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message))).toEqual([
      120,
      "poison",
      140,
    ]);
    expect(calls).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  test("a batch whose answer does not match its items fails, and no item takes a neighbour's result", async () => {
    const group = createGroupCommit<number, number>({
      concurrency: 1,
      maxBatch: 10,
      run: async (items) => (items.length > 1 ? [1] : []),
    });
    const results = await Promise.allSettled([0, 1, 2].map((i) => group.submit(i)));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect(String((r as PromiseRejectedResult).reason)).toContain("answered 0 results for 1 items");
    }
  });

  test("a failure the items cannot have caused (retryAlone says no) fails the batch at once", async () => {
    const calls: number[][] = [];
    const group = createGroupCommit<number, number>({
      concurrency: 1,
      maxBatch: 10,
      retryAlone: (err) => (err as Error).message !== "connection refused",
      run: async (items) => {
        calls.push([...items]);
        if (items.length > 1) throw new Error("connection refused");
        return items;
      },
    });
    const results = await Promise.allSettled([0, 1, 2].map((i) => group.submit(i)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    expect(calls).toEqual([[0], [1, 2]]);
  });

  test("a hung database: past deadlineMs every item is refused as unavailable, and a waiting item is never sent", async () => {
    const m = manualRun<number>();
    const group = createGroupCommit({ run: m.run, concurrency: 1, maxBatch: 10, deadlineMs: 30 });
    const running = group.submit(1);
    await tick();
    const queued = group.submit(2);
    const results = await Promise.allSettled([running, queued]);
    for (const r of results) {
      const reason = (r as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(DependencyTimeoutError);
      expect(classifyUnavailable(reason)).toMatchObject({ dependency: "postgres" });
    }
    expect(group.stats()).toEqual({ running: 1, waiting: 0 });
    // The database answers at last: the late result goes nowhere, and the refused item was not sent.
    m.releases[0]?.();
    await tick();
    await tick();
    expect(m.batches).toEqual([[1]]);
    expect(group.stats()).toEqual({ running: 0, waiting: 0 });
  });

  test("an item answered in time is not touched by its deadline", async () => {
    const m = manualRun<number>();
    const group = createGroupCommit({ run: m.run, concurrency: 1, maxBatch: 10, deadlineMs: 20 });
    const p = group.submit(1);
    await tick();
    m.releases[0]?.();
    expect(await p).toBe("done:1");
    await Bun.sleep(40);
    expect(await p).toBe("done:1");
  });

  test("rejects bad settings", () => {
    const run = async (items: number[]) => items;
    expect(() => createGroupCommit({ run, concurrency: 0, maxBatch: 1 })).toThrow();
    expect(() => createGroupCommit({ run, concurrency: 1, maxBatch: 0 })).toThrow();
    expect(() => createGroupCommit({ run, concurrency: 1, maxBatch: 1, deadlineMs: 0 })).toThrow();
  });
});
