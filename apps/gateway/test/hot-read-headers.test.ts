// The hot read (a Bun native route outside httpKit) answers with the same security headers as
// every httpKit answer — 200, 304 and its problems alike — and stays public: no Cache-Control.
import { describe, expect, test } from "bun:test";
import { createMemoryCache } from "@careforall/cache";
import { systemClock } from "@careforall/config";
import type { CampaignSnapshot } from "@careforall/events";
import { createHttpMetrics, SECURITY_HEADERS } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { campaignSnapshot } from "@careforall/testkit";
import { hotCampaignRead } from "../src/routes/campaigns";
import { createSnapshotStore } from "../src/snapshots";
import { offlineGateway } from "./offline-gateway";

const campaign = (version: number) => campaignSnapshot({ version });

function hotRead(known: CampaignSnapshot[], failing = false) {
  const log = silentLogger("gateway");
  const metrics = createHttpMetrics("t");
  const snapshots = createSnapshotStore({
    cache: createMemoryCache(),
    origin: {
      async fetch(id) {
        if (failing) throw new Error("campaign service answered 500");
        return known.find((c) => c.id === id) ?? null;
      },
    },
    clock: systemClock,
    log,
    metrics,
    localTtlMs: 60_000,
    redisTtlSeconds: 60,
  });
  const handler = hotCampaignRead({ snapshots, log, metrics });
  return (id: string, headers: Record<string, string> = {}) => {
    const request = Object.assign(new Request(`http://gateway.test/api/campaigns/${id}`, { headers }), {
      params: { id },
    });
    return Promise.resolve(handler(request));
  };
}

const securityHeaders = (res: Response) =>
  Object.fromEntries(Object.keys(SECURITY_HEADERS).map((name) => [name, res.headers.get(name)]));

describe("the hot campaign read's headers", () => {
  test("httpKit's answers carry SECURITY_HEADERS (the reference the hot read must match)", async () => {
    const gateway = await offlineGateway();
    const health = await gateway.handle(new Request("http://localhost/health"));
    expect(securityHeaders(health)).toEqual(SECURITY_HEADERS);
    expect(Object.keys(SECURITY_HEADERS)).toEqual(
      expect.arrayContaining(["x-content-type-options", "x-frame-options", "referrer-policy"]),
    );
  });

  test("200 (cold and from memory) and 304 carry every security header, an ETag, no Cache-Control", async () => {
    const c = campaign(3);
    const read = hotRead([c]);
    const cold = await read(c.id);
    const warm = await read(c.id, { "x-request-id": "req-warm-1" });
    const notModified = await read(c.id, { "if-none-match": '"v3"' });
    expect([cold.status, warm.status, notModified.status]).toEqual([200, 200, 304]);
    for (const res of [cold, warm, notModified]) {
      expect(securityHeaders(res)).toEqual(SECURITY_HEADERS);
      expect(res.headers.get("etag")).toBe('"v3"');
      expect(res.headers.get("cache-control")).toBeNull();
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
    expect(warm.headers.get("x-request-id")).toBe("req-warm-1");
    expect(await warm.json()).toEqual(c);
  });

  test("its problems (400, 404, 503) carry them too", async () => {
    const read = hotRead([]);
    const broken = hotRead([], true);
    const answers = [
      await read("not-a-uuid"),
      await read("0193e3f0-0000-7000-8000-000000000000"),
      await broken("0193e3f0-0000-7000-8000-000000000001"),
    ];
    expect(answers.map((r) => r.status)).toEqual([400, 404, 503]);
    for (const res of answers) {
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(securityHeaders(res)).toEqual(SECURITY_HEADERS);
    }
  });
});
