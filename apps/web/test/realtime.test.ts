// The tab's WebSocket client: follows are shared per key and sent once; a dropped socket reconnects
// after a jittered, growing, capped delay with a fresh token, re-follows everything and tells pages
// to re-read; a new user reconnects at once.
import { describe, expect, test } from "bun:test";
import { createRealtime } from "../src/realtime/socket";

class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function harness(randomValue = 1) {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  let tokenN = 0;
  const rt = createRealtime({
    url: "ws://gw.test/api/ws",
    token: async () => `t${++tokenN}`,
    connect: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => randomValue,
    setTimeout: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimeout: () => {},
    baseDelayMs: 500,
    maxDelayMs: 4_000,
  });
  const settle = () => Bun.sleep(0);
  return { rt, sockets, timers, settle, last: () => sockets.at(-1) as FakeSocket };
}

describe("realtime client", () => {
  test("follows are sent on open, shared per key, and released by the last holder", async () => {
    const { rt, sockets, settle, last } = harness();
    const a = rt.followCampaign("c1");
    const b = rt.followCampaign("c1");
    rt.followPledge("p1", "receipt-secret");
    await settle();
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe("ws://gw.test/api/ws?token=t1");
    last().open();
    expect(last().sent).toEqual([
      { op: "follow", campaignId: "c1" },
      { op: "follow", pledgeId: "p1", receiptToken: "receipt-secret" },
    ]);
    a();
    expect(last().sent).toHaveLength(2);
    b();
    expect(last().sent.at(-1)).toEqual({ op: "unfollow", campaignId: "c1" });
  });

  test("a dropped socket reconnects after a jittered, growing, capped delay and re-follows", async () => {
    const { rt, sockets, timers, settle, last } = harness(1);
    rt.followCampaign("c1");
    const frames: unknown[] = [];
    rt.on((f) => frames.push(f));
    let reconnects = 0;
    rt.onReconnect(() => reconnects++);
    await settle();
    last().open();
    expect(reconnects).toBe(0);

    // Four drops in a row without a successful open: 500, 1000, 2000, 4000 (capped) at most.
    for (const expected of [500, 1000, 2000, 4000, 4000]) {
      last().drop();
      expect(timers.at(-1)?.ms).toBe(expected);
      timers.at(-1)?.fn();
      await settle();
    }
    expect(sockets).toHaveLength(6);
    expect(new Set(sockets.map((s) => s.url)).size).toBe(6); // a fresh token each time
    last().open();
    expect(last().sent).toEqual([{ op: "follow", campaignId: "c1" }]);
    expect(reconnects).toBe(1);
    last().onmessage?.({ data: JSON.stringify({ type: "pong" }) });
    expect(frames).toEqual([{ type: "pong" }]);

    // After a good open the backoff starts again from the base.
    last().drop();
    expect(timers.at(-1)?.ms).toBe(500);
  });

  test("the wait is full jitter: random in [0, cap]", async () => {
    const { rt, timers, settle, last } = harness(0.25);
    rt.followCampaign("c1");
    await settle();
    last().open();
    last().drop();
    expect(timers.at(-1)?.ms).toBe(125);
  });

  test("a 4401 close (token expired) reconnects with a fresh token", async () => {
    const { rt, timers, settle, last } = harness();
    rt.followPledge("p1");
    await settle();
    last().open();
    last().drop(4401);
    timers.at(-1)?.fn();
    await settle();
    expect(last().url).toBe("ws://gw.test/api/ws?token=t2");
    last().open();
    expect(last().sent).toEqual([{ op: "follow", pledgeId: "p1" }]);
  });

  test("a new user reconnects at once; with nothing followed a dropped socket stays closed", async () => {
    const { rt, sockets, timers, settle, last } = harness();
    const stop = rt.followCampaign("c1");
    await settle();
    last().open();
    rt.reconnectNow();
    await settle();
    expect(sockets).toHaveLength(2);
    expect(sockets[0]?.readyState).toBe(3);
    last().open();
    expect(last().sent).toEqual([{ op: "follow", campaignId: "c1" }]);
    stop();
    const before = timers.length;
    last().drop();
    expect(timers.length).toBe(before);
    expect(rt.status()).toBe("idle");
  });
});
