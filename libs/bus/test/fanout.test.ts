// The fan-out contract, on NATS core (two connections stand for two processes) and in memory:
// every current subscriber in every process gets a publish once, one underlying subscription
// per topic per process, nothing after unsubscribe, and bad topics or listeners harm nothing.
import { afterEach, describe, expect, test } from "bun:test";
import { assertTopic, createMemoryFanout, createNatsFanout, type Fanout } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { captureLog, quietWindow, waitFor } from "./wait-for";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const run = `f_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
let n = 0;

const opened: Fanout[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((f) => f.close()));
});

interface Profile {
  /** Fan-outs of one deployment: on NATS each is its own connection (a process); in memory one shared instance. */
  processes(count: number, log?: ReturnType<typeof silentLogger>): Promise<Fanout[]>;
  crossesProcesses: boolean;
}

const profiles: Record<string, Profile> = {
  nats: {
    crossesProcesses: true,
    async processes(count, log = silentLogger()) {
      const prefix = `${run}_${++n}`;
      const list = await Promise.all(Array.from({ length: count }, () => createNatsFanout({ url, prefix, log })));
      opened.push(...list);
      return list;
    },
  },
  memory: {
    crossesProcesses: false,
    async processes(count, log = silentLogger()) {
      const one = createMemoryFanout({ log });
      opened.push(one);
      return Array.from({ length: count }, () => one);
    },
  },
};

for (const [name, profile] of Object.entries(profiles)) {
  describe(`fan-out (${name})`, () => {
    test("a publish reaches every listener of the topic once, in every process, and no other topic", async () => {
      const [a, b] = (await profile.processes(2)) as [Fanout, Fanout];
      const got: string[] = [];
      a.subscribe("campaign.c1", (json) => got.push(`a1:${json}`));
      a.subscribe("campaign.c1", (json) => got.push(`a2:${json}`));
      b.subscribe("campaign.c1", (json) => got.push(`b:${json}`));
      b.subscribe("campaign.c2", (json) => got.push(`other:${json}`));
      await Promise.all([a.flush(), b.flush()]);
      expect(a.publish("campaign.c1", { raised: 5 })).toBe(true);
      await waitFor(() => got.length === 3);
      await quietWindow(50);
      expect(got.sort()).toEqual(['a1:{"raised":5}', 'a2:{"raised":5}', 'b:{"raised":5}']);
    });

    test("one underlying subscription per topic however many listeners; the last unsubscribe drops it", async () => {
      const [a] = (await profile.processes(1)) as [Fanout];
      const offs = Array.from({ length: 50 }, () => a.subscribe("user.u1", () => {}));
      a.subscribe("user.u2", () => {});
      expect(a.topics()).toBe(2);
      for (const off of offs.slice(1)) off();
      expect(a.topics()).toBe(2);
      offs[0]?.();
      offs[0]?.(); // idempotent
      expect(a.topics()).toBe(1);
    });

    test("nothing reaches a listener after it unsubscribed; a string is sent as the JSON it holds", async () => {
      const [a, b] = (await profile.processes(2)) as [Fanout, Fanout];
      const kept: string[] = [];
      const dropped: string[] = [];
      const off = b.subscribe("room.r", (json) => dropped.push(json));
      b.subscribe("room.r", (json) => kept.push(json));
      off();
      await b.flush();
      a.publish("room.r", '{"already":"json"}');
      await waitFor(() => kept.length === 1);
      await quietWindow(50);
      expect(kept).toEqual(['{"already":"json"}']);
      expect(dropped).toEqual([]);
    });

    test("a throwing listener is logged and its neighbours still get the message", async () => {
      const { log, lines } = captureLog();
      const [a] = (await profile.processes(1, log)) as [Fanout];
      const got: string[] = [];
      a.subscribe("t.x", () => {
        throw new Error("boom");
      });
      a.subscribe("t.x", (json) => got.push(json));
      await a.flush();
      a.publish("t.x", 1);
      await waitFor(() => got.length === 1 && lines.some((l) => l.msg === "fanout.listener_failed"));
    });

    test("wildcards, spaces and empty tokens are refused as topics, by publish and subscribe", async () => {
      const [a] = (await profile.processes(1)) as [Fanout];
      for (const bad of ["", "a.*", "a.>", "a b", "a..b", "a.", "ক"]) {
        expect(() => a.publish(bad, 1)).toThrow(/invalid fan-out topic/);
        expect(() => a.subscribe(bad, () => {})).toThrow(/invalid fan-out topic/);
      }
      expect(() => assertTopic("chat.campaign:0190c0de-0000-7000-8000-000000000000")).not.toThrow();
    });

    test("after close a publish says false instead of throwing, and ping says unreachable", async () => {
      const [a] = (await profile.processes(1)) as [Fanout];
      expect(await a.ping()).toBe(true);
      await a.close();
      expect(a.publish("t.x", 1)).toBe(false);
      expect(await a.ping()).toBe(false);
      expect(a.stats().failed).toBe(1);
    });
  });
}
