// Runs the shared bus contract against the in-process bus used by the embedded profile.
import { describe, expect, test } from "bun:test";
import { createMemoryBus } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { busContract, makeEvent } from "./contract";
import { waitFor } from "./wait-for";

busContract("memory", async (log) => {
  // One process-wide bus stands for the whole deployment: every "replica" shares it.
  const bus = createMemoryBus({ log });
  return {
    connect: async () => bus,
    cleanup: async () => {},
  };
});

describe("memory bus", () => {
  test("an id is a duplicate only inside the duplicate window", async () => {
    let now = 1_000_000;
    const bus = createMemoryBus({ log: silentLogger(), duplicateWindowMs: 60_000, now: () => now });
    const event = makeEvent("pledge.created", {});
    expect(await bus.publish(event)).toEqual({ duplicate: false });
    now += 59_999;
    expect(await bus.publish(event)).toEqual({ duplicate: true });
    now += 1;
    expect(await bus.publish(event)).toEqual({ duplicate: false });
    await bus.close();
  });

  test("a durable keeps its backlog while no subscriber is attached", async () => {
    const bus = createMemoryBus({ log: silentLogger() });
    const got: number[] = [];
    const sub = await bus.subscribe({
      durable: "d",
      types: ["pledge.created"],
      handler: async (e) => void got.push(e.data as number),
    });
    await bus.publish(makeEvent("pledge.created", 1));
    await waitFor(() => got.length === 1);
    await sub.stop();
    await bus.publish(makeEvent("pledge.created", 2));
    await bus.subscribe({
      durable: "d",
      types: ["pledge.created"],
      handler: async (e) => void got.push(e.data as number),
    });
    await waitFor(() => got.length === 2);
    expect(got).toEqual([1, 2]);
    await bus.close();
  });
});
