// One request followed through every service's log by its id: a guest's donation sent with its own
// X-Request-Id leaves an access line with that id in the gateway (the public edge), in pledge
// (reached by the gateway's Eden call) and in the bank (reached by pledge's grant call) — and no
// access line for health probes.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import { waitForPledgeView } from "../apps/gateway/test/e2e/money";
import { call, createCampaign, register, useStack } from "../apps/gateway/test/e2e/support";

const e2e = useStack({ LOG_LEVEL: "info" }, { label: "reqlog" });

/** The JSON lines of a service's log that carry `requestId`. */
function linesOf(service: string, requestId: string): Array<Record<string, unknown>> {
  const text = readFileSync(join(e2e.logsDir, `${service}.log`), "utf8");
  return text
    .split("\n")
    .filter((l) => l.includes(requestId))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("request logs", () => {
  test("a donation's X-Request-Id is on its access line in the gateway, pledge and the bank", async () => {
    const owner = await register(e2e.gw, { name: "Log Owner" });
    const campaign = await createCampaign(e2e.gw, owner.token, { title: "Followed by its id" });
    await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
    const account = (
      await call<{ bankAccountId: string; accountSecret: string }>(e2e.gw, "POST", "/api/bank/demo-accounts")
    ).body;
    const requestId = `follow-me-${Date.now()}`;
    const reply = await call(
      e2e.gw,
      "POST",
      `/api/campaigns/${campaign.id}/pledges`,
      { amountMinor: 1_000, currency: "BDT", donor: { email: "log@example.org", name: "লগ" }, source: account },
      { headers: { "idempotency-key": crypto.randomUUID(), "x-request-id": requestId } },
    );
    expect(reply.status).toBe(202);
    expect(reply.res.headers.get("x-request-id")).toBe(requestId);

    // Access lines are written in chunks (every 200 ms): wait for each service's.
    for (const [service, route] of [
      ["gateway", "/api/campaigns/:id/pledges"],
      ["pledge", "/campaigns/:id/pledges"],
      ["bank", "/bank/grants"],
    ] as const) {
      const line = await waitFor(() => linesOf(service, requestId).find((l) => l.msg === "request"), {
        what: `${service}'s access line for ${requestId}`,
        timeoutMs: 10_000,
      });
      expect(line).toMatchObject({ service, method: "POST", route, status: expect.any(Number), requestId });
      expect(typeof line.durationMs).toBe("number");
      // One trace across the services, and each line its own span.
      expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(line.spanId).toMatch(/^[0-9a-f]{16}$/);
    }
    const traces = ["gateway", "pledge", "bank"].map(
      (service) => linesOf(service, requestId).find((l) => l.msg === "request")?.traceId,
    );
    expect(new Set(traces).size).toBe(1);
    await fetch(`${e2e.gw}/health`);
    await Bun.sleep(400);
    const probes = readFileSync(join(e2e.logsDir, "gateway.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes('"route":"/health"'));
    expect(probes).toEqual([]);
  }, 60_000);

  test("the cached campaign read's access line carries a trace id and a span id too, the caller's trace continued", async () => {
    const owner = await register(e2e.gw, { name: "Read Log Owner" });
    const campaign = await createCampaign(e2e.gw, owner.token, { title: "Read and logged" });
    const read = async (requestId: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${e2e.gw}/api/campaigns/${campaign.id}`, {
        headers: { "x-request-id": requestId, ...headers },
      });
      expect(res.status).toBe(200);
      return waitFor(() => linesOf("gateway", requestId).find((l) => l.msg === "request"), {
        what: `the gateway's access line for ${requestId}`,
        timeoutMs: 10_000,
      });
    };
    const stamp = Date.now();
    const [a, b] = [await read(`read-a-${stamp}`), await read(`read-b-${stamp}`)];
    for (const line of [a, b]) {
      expect(line).toMatchObject({ route: "/api/campaigns/:id", status: 200 });
      expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(line.spanId).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.spanId).not.toBe(b.spanId);
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const c = await read(`read-c-${stamp}`, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    expect(c.traceId).toBe(traceId);
  }, 60_000);
});
