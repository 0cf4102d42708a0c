// The operator's side of the money path through the real gateway: the bank's chaos knobs
// (admin only, validated), a pledge accepted while the bank fails every call and completed once
// it recovers, the money audit's shape and its metric, and the OpenAPI document covering every
// pledge, bank, webhook and operations route of the contract.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import {
  accepted,
  adminToken,
  audit,
  donor,
  type MyBank,
  metricValue,
  moneyEnv,
  myBank,
  paymentOf,
  readPledge,
  statuses,
  waitCleanAudit,
  waitForPledgeView,
  waitForStatus,
  waitSettled,
} from "./money";
import { type Account, type Campaign, call, createCampaign, expectProblem, useStack } from "./support";

const e2e = useStack(moneyEnv(), { label: "gw_money_admin" });

const ZERO_FAULTS = {
  errorRate: 0,
  lostResponseRate: 0,
  latencyMs: 0,
  webhookDuplicateRate: 0,
  webhookReorder: false,
  webhookDropRate: 0,
};

let admin: string;
let dan: Account & { bank: MyBank };
let campaign: Campaign;

beforeAll(async () => {
  admin = await adminToken(e2e.gw);
  dan = await donor(e2e.gw, "Dan Donor");
  campaign = await createCampaign(e2e.gw, dan.token, { title: "Ops watch" });
  await waitForPledgeView(e2e.gw, campaign.id, "EUR", 422);
}, 30_000);

afterAll(async () => {
  await call(e2e.gw, "PUT", "/api/admin/bank/faults", ZERO_FAULTS, { token: admin }).catch(() => undefined);
});

const faults = (token?: string) =>
  call<typeof ZERO_FAULTS>(e2e.gw, "GET", "/api/admin/bank/faults", undefined, token ? { token } : {});
const putFaults = (body: unknown, token?: string) =>
  call<typeof ZERO_FAULTS>(e2e.gw, "PUT", "/api/admin/bank/faults", body, token ? { token } : {});

describe("/api/admin/bank/faults", () => {
  test("GET as admin → 200 with every knob, all off at start", async () => {
    const reply = await faults(admin);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(ZERO_FAULTS);
  });

  test("PUT changes only the fields sent; GET reads them back", async () => {
    const reply = await putFaults({ latencyMs: 5, webhookDuplicateRate: 0.25 }, admin);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ ...ZERO_FAULTS, latencyMs: 5, webhookDuplicateRate: 0.25 });
    expect((await faults(admin)).body).toEqual(reply.body);
    expect((await putFaults(ZERO_FAULTS, admin)).body).toEqual(ZERO_FAULTS);
  });

  test("rates outside 0..1 (and a negative latency) → 400, and nothing changes", async () => {
    for (const body of [
      { errorRate: 1.5 },
      { errorRate: -0.1 },
      { lostResponseRate: 2 },
      { webhookDuplicateRate: 1.01 },
      { webhookDropRate: -1 },
      { latencyMs: -1 },
      { errorRate: 0.5, lostResponseRate: 7 },
    ]) {
      const problem = expectProblem(await putFaults(body, admin), 400);
      expect(problem.errors?.length).toBeGreaterThan(0);
    }
    expect((await faults(admin)).body).toEqual(ZERO_FAULTS);
  });

  test("a donor → 403; no token → 401 (GET and PUT)", async () => {
    expectProblem(await faults(dan.token), 403);
    expectProblem(await putFaults({ errorRate: 1 }, dan.token), 403);
    expectProblem(await faults(), 401);
    expectProblem(await putFaults({ errorRate: 1 }), 401);
    expect((await faults(admin)).body).toEqual(ZERO_FAULTS);
  });

  test("with errorRate 1 a pledge is still accepted, waits, and is captured once the bank recovers", async () => {
    const before = await myBank(e2e.gw, dan.token);
    expect((await putFaults({ errorRate: 1 }, admin)).status).toBe(200);
    let pledgeId: string;
    try {
      const created = await accepted(
        e2e.gw,
        campaign.id,
        { amountMinor: 6_600, currency: "BDT" },
        { token: dan.token },
      );
      pledgeId = created.id;
      expect(created.status).toBe("pending");
      // The payment's authorize was refused with a 503: an unknown outcome, retried later.
      await waitFor(
        async () => {
          const r = await paymentOf(e2e, pledgeId);
          return r.status === 200 && r.body.status === "authorizing" && r.body.attempts >= 1;
        },
        { timeoutMs: 5_000, what: "the payment to meet the failing bank" },
      );
      expect((await readPledge(e2e.gw, pledgeId, { token: dan.token })).body.status).toBe("pending");
      const bankMetrics = (await call<string>(e2e.stack.urls.bank, "GET", "/metrics")).text;
      expect(
        metricValue(bankMetrics, "careforall_bank_faults_injected_total", { kind: "error" }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      expect((await putFaults({ errorRate: 0 }, admin)).status).toBe(200);
    }
    const captured = await waitForStatus(e2e.gw, pledgeId, "captured", { token: dan.token }, 25_000);
    expect(statuses(captured)).toEqual(["pending", "authorized", "captured"]);
    expect(await myBank(e2e.gw, dan.token)).toMatchObject({ balanceMinor: before.balanceMinor - 6_600, heldMinor: 0 });
  }, 40_000);
});

describe("/api/admin/audit", () => {
  test("admin → 200 with the documented shape; the campaign's three views agree", async () => {
    await waitSettled(e2e.gw, admin);
    const report = await waitCleanAudit(e2e.gw, admin);
    expect(Object.keys(report).sort()).toEqual(["campaigns", "checkedAt", "stuckPledges", "totalDriftMinor"]);
    expect(new Date(report.checkedAt).toISOString()).toBe(report.checkedAt);
    expect(Math.abs(Date.parse(report.checkedAt) - Date.now())).toBeLessThan(60_000);
    expect(report.campaigns.length).toBeGreaterThanOrEqual(1);
    for (const line of report.campaigns) {
      expect(Object.keys(line).sort()).toEqual([
        "bankBalanceMinor",
        "campaignId",
        "capturedMinusRefundedMinor",
        "driftMinor",
        "raisedMinor",
      ]);
      for (const v of [line.raisedMinor, line.capturedMinusRefundedMinor, line.bankBalanceMinor, line.driftMinor]) {
        expect(Number.isInteger(v)).toBe(true);
      }
    }
    expect(report.campaigns.find((c) => c.campaignId === campaign.id)).toEqual({
      campaignId: campaign.id,
      raisedMinor: 6_600,
      capturedMinusRefundedMinor: 6_600,
      bankBalanceMinor: 6_600,
      driftMinor: 0,
    });
    expect(report).toMatchObject({ totalDriftMinor: 0, stuckPledges: 0 });
  }, 30_000);

  test("a donor → 403; no token → 401", async () => {
    expectProblem(await call(e2e.gw, "GET", "/api/admin/audit", undefined, { token: dan.token }), 403);
    expectProblem(await call(e2e.gw, "GET", "/api/admin/audit"), 401);
  });

  test("the gateway's /metrics exposes the latest audit as careforall_audit_drift_minor", async () => {
    await audit(e2e.gw, admin);
    const text = (await call<string>(e2e.gw, "GET", "/metrics")).text;
    expect(text).toContain("# TYPE careforall_audit_drift_minor gauge");
    expect(metricValue(text, "careforall_audit_drift_minor")).toBe(0);
    expect(metricValue(text, "careforall_audit_stuck_pledges")).toBe(0);
  });
});

describe("/docs/json", () => {
  interface Operation {
    security?: unknown[];
    requestBody?: unknown;
    parameters?: Array<{ name: string; in: string; required?: boolean }>;
    responses?: Record<string, unknown>;
  }
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    const reply = await call<typeof doc>(e2e.gw, "GET", "/docs/json");
    expect(reply.status).toBe(200);
    doc = reply.body;
  });

  test("describes every route of Pledges, Demo bank, Webhooks and Operations with the right methods", () => {
    const expected: Record<string, string[]> = {
      "/api/campaigns/{id}/pledges": ["post"],
      "/api/pledges/{id}": ["get"],
      "/api/me/pledges": ["get"],
      "/api/pledges/{id}/cancel": ["post"],
      "/api/pledges/{id}/refund": ["post"],
      "/api/bank/demo-accounts": ["post"],
      "/api/me/bank": ["get"],
      "/api/webhooks/bank": ["post"],
      "/api/admin/pledges": ["get"],
      "/api/admin/bank/faults": ["get", "put"],
      "/api/admin/audit": ["get"],
      "/api/campaigns/{id}/donations": ["get"],
      "/health": ["get"],
      "/ready": ["get"],
      "/metrics": ["get"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect({ path, methods: Object.keys(doc.paths[path] ?? {}).sort() }).toEqual({ path, methods });
    }
  });

  test("bodies, the Idempotency-Key header and the bearer requirement are described", () => {
    const create = doc.paths["/api/campaigns/{id}/pledges"]!.post!;
    expect(create.requestBody).toBeDefined();
    expect(create.parameters?.some((p) => p.in === "header" && p.name.toLowerCase() === "idempotency-key")).toBe(true);
    expect(Object.keys(create.responses ?? {})).toEqual(expect.arrayContaining(["202", "400", "402", "409", "422"]));
    expect(doc.paths["/api/admin/bank/faults"]!.put!.requestBody).toBeDefined();
    for (const [path, method] of [
      ["/api/me/pledges", "get"],
      ["/api/pledges/{id}/cancel", "post"],
      ["/api/pledges/{id}/refund", "post"],
      ["/api/me/bank", "get"],
      ["/api/admin/pledges", "get"],
      ["/api/admin/bank/faults", "get"],
      ["/api/admin/bank/faults", "put"],
      ["/api/admin/audit", "get"],
    ] as const) {
      expect({ path, method, security: doc.paths[path]![method]!.security }).toEqual({
        path,
        method,
        security: [{ bearer: [] }],
      });
    }
  });
});
