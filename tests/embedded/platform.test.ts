// The embedded profile end to end: all eight services in this test's process on one PGlite data
// directory, the in-memory bus and cache, calls between services in-process — driven only through
// the gateway's HTTP API. A guest's pledge from a demo account and a signed-in donor's pledge reach
// `captured` and move the campaign's totals, an admin refund reaches `refunded`, the money audit is
// clean; then the platform stops and starts again on the same directory and every pledge is still
// there with its status. PostgreSQL, Redis and NATS are pointed at closed ports: none is used.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  accepted,
  adminToken,
  allPledges,
  donor,
  moneyEnv,
  readPledge,
  statuses,
  waitCleanAudit,
  waitForPledgeView,
  waitForStatus,
  waitForTotals,
} from "../../apps/gateway/test/e2e/money";
import { ADMIN, call, createCampaign, register, uniqueEmail } from "../../apps/gateway/test/e2e/support";
import { type EmbeddedPlatform, startEmbeddedPlatform } from "../../scripts/embedded-platform";

const root = mkdtempSync(join(tmpdir(), "cfa-embedded-"));
const dataDir = join(root, "data");
const env = moneyEnv({
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  // Nothing of the servers profile may be reached: any use of these fails loudly.
  REDIS_URL: "redis://127.0.0.1:1",
  NATS_URL: "nats://127.0.0.1:1",
  // Short, so the audit would count a pledge this run left open.
  STUCK_AFTER_SECONDS: "20",
});
// The embedded database must never fall back to the servers' PostgreSQL: a DATABASE_URL from the
// environment is overridden by the platform, and this one does not answer.
const start = () =>
  startEmbeddedPlatform({
    dataDir,
    keysDir: join(root, "keys"),
    env: { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" },
  });

let platform: EmbeddedPlatform | undefined;
let gw: string;
let admin: string;
let campaignId: string;
const guestAmount = 2_500;
const donorAmount = 4_000;
let guestPledge: { id: string; receiptToken?: string | undefined };
let donorPledge: { id: string };

beforeAll(async () => {
  platform = await start();
  gw = platform.gatewayUrl;
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("one process, one data directory", () => {
  test("the gateway answers /ready with every service in-process", async () => {
    const ready = await fetch(`${gw}/ready`);
    expect(ready.status).toBe(200);
    expect([...(platform?.services.keys() ?? [])].sort()).toEqual([
      "auth",
      "bank",
      "campaign",
      "chat",
      "gateway",
      "notification",
      "payment",
      "pledge",
    ]);
  });

  test("in-process, an internal route still refuses a call without a service credential", async () => {
    const bank = platform?.services.get("bank");
    const res = await bank?.app.handle(
      new Request("http://bank.in-process/bank/check-balance", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ accountId: "acct_test_slow" }),
      }),
    );
    expect(res?.status).toBe(401);
  });

  test("a guest (demo account) and a signed-in donor (own account) both reach captured; totals show them", async () => {
    admin = await adminToken(gw);
    const owner = await register(gw, { name: "Olive Owner" });
    const alice = await donor(gw, "Alice Donor");
    campaignId = (await createCampaign(gw, owner.token, { title: "Embedded relief" })).id;
    await waitForPledgeView(gw, campaignId, "EUR", 422);

    const demo = await call<{ bankAccountId: string; accountSecret: string }>(gw, "POST", "/api/bank/demo-accounts");
    expect(demo.status).toBe(201);
    guestPledge = await accepted(gw, campaignId, {
      amountMinor: guestAmount,
      currency: "BDT",
      donor: { email: uniqueEmail("guest"), name: "Gita Guest" },
      source: { bankAccountId: demo.body.bankAccountId, accountSecret: demo.body.accountSecret },
    });
    donorPledge = await accepted(gw, campaignId, { amountMinor: donorAmount, currency: "BDT" }, { token: alice.token });

    const [guest, signedIn] = await Promise.all([
      waitForStatus(gw, guestPledge.id, "captured", { receiptToken: guestPledge.receiptToken }),
      waitForStatus(gw, donorPledge.id, "captured", { token: alice.token }),
    ]);
    expect(statuses(guest)).toEqual(["pending", "authorized", "captured"]);
    expect(signedIn).toMatchObject({ donorId: alice.session.user.id, amountMinor: donorAmount });
    await waitForTotals(gw, campaignId, { raisedMinor: guestAmount + donorAmount, pledgeCount: 2 });
  }, 60_000);

  test("an admin refund reaches refunded and takes the amount off the totals; the audit finds no drift", async () => {
    const refund = await call(gw, "POST", `/api/pledges/${donorPledge.id}/refund`, undefined, { token: admin });
    expect(refund.status).toBe(202);
    await waitForStatus(gw, donorPledge.id, "refunded", { token: admin });
    await waitForTotals(gw, campaignId, { raisedMinor: guestAmount });
    const audit = await waitCleanAudit(gw, admin);
    expect(audit.totalDriftMinor).toBe(0);
  }, 60_000);

  test("stopped and started again on the same directory, every pledge is there with its status", async () => {
    const before = await allPledges(gw, admin);
    expect(before.length).toBeGreaterThanOrEqual(2);
    await platform?.stop();
    platform = undefined;

    platform = await start();
    gw = platform.gatewayUrl;
    admin = await adminToken(gw);
    const after = await allPledges(gw, admin);
    const view = (list: typeof before) =>
      list
        .map((p) => ({ id: p.id, status: p.status, amountMinor: p.amountMinor }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(view(after)).toEqual(view(before));
    expect((await readPledge(gw, guestPledge.id, { token: admin })).body.status).toBe("captured");
    expect((await readPledge(gw, donorPledge.id, { token: admin })).body.status).toBe("refunded");
    await waitForTotals(gw, campaignId, { raisedMinor: guestAmount });
    expect((await waitCleanAudit(gw, admin)).totalDriftMinor).toBe(0);
  }, 90_000);
});
