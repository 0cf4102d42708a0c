// The topic hub's promise: a socket's hold on a topic resolves only once the fan-out subscription
// is in force at the server (flushed), so a frame answered after it (the follow's totals, a pong)
// means "subscribed" — a publish from any process after that reaches the socket.
import { expect, test } from "bun:test";
import { createMemoryFanout, type Fanout } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { createTopicHub } from "../src/realtime/topics";

/** A fan-out whose flush the test releases by hand, counting the flushes asked for. */
function gatedFanout() {
  const inner = createMemoryFanout({ log: silentLogger() });
  const gates: Array<() => void> = [];
  const fanout: Fanout = {
    ...inner,
    publish: (topic, message) => inner.publish(topic, message),
    subscribe: (topic, listener) => inner.subscribe(topic, listener),
    topics: () => inner.topics(),
    flush: () => new Promise<void>((resolve) => gates.push(resolve)),
  };
  return { fanout, gates };
}

test("a new topic's hold resolves after the fan-out flushed; later holds share it; a held topic costs no flush", async () => {
  const { fanout, gates } = gatedFanout();
  const hub = createTopicHub(fanout, () => 0);
  let first = false;
  let second = false;
  void hub.acquire("campaign.c").then(() => {
    first = true;
  });
  void hub.acquire("campaign.c").then(() => {
    second = true;
  });
  await Bun.sleep(10);
  expect([first, second, gates.length]).toEqual([false, false, 1]);
  gates[0]?.();
  await Bun.sleep(0);
  expect([first, second]).toEqual([true, true]);
  await hub.acquire("campaign.c");
  expect(gates.length).toBe(1);
});

test("a flush that fails (the server away) still resolves the hold: the subscription is resent on reconnect", async () => {
  const inner = createMemoryFanout({ log: silentLogger() });
  const failing: Fanout = {
    ...inner,
    subscribe: (t, l) => inner.subscribe(t, l),
    flush: () => Promise.reject(new Error("away")),
  };
  const hub = createTopicHub(failing, () => 0);
  await hub.acquire("user.u");
  expect(hub.holders("user.u")).toBe(1);
});
