// Crash invariants of the money path, made deterministic: (1) a pledge committed by a pledge
// process that is SIGKILLed before its outbox relay publishes still reaches the bus after the
// restart (the relay is held off by the test-only OUTBOX_RELAY_ENABLED=false); (2) a payment
// process killed right after pledges are accepted, or (3) while it waits for the bank's authorize
// answer, still converges every pledge to captured, charged once, with a clean audit; (4) a cancel
// that overtakes a pledge.created stranded with a killed payment process never lets the money go;
// (5) a refund that overtakes a pledge.captured stranded with a killed campaign process leaves the
// campaign's total where the money is.
import { beforeAll, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import postgres from "postgres";
import {
  ADMIN,
  call,
  createCampaign,
  expectCall,
  gauge,
  login,
  mapLimited,
  openDemoAccount,
  register,
  type Session,
  uniqueEmail,
  useSystem,
} from "./support";

const sys = useSystem({
  label: "crash",
  env: {
    RECONCILE_AFTER_MS: "1500",
    RECONCILE_INTERVAL_MS: "500",
    // Short redelivery delays: a consumer's retry budget (maxDeliver × backoff) is far shorter than
    // the bus's ack wait, which is what test 4 relies on to show cancels are not lost.
    RETRY_BACKOFF_MS: "100,200,500,1000",
    BANK_TIMEOUT_MS: "5000",
    // acct_test_slow answers /bank/authorize after this long: the window test 3 kills payment in.
    SLOW_ACCOUNT_DELAY_MS: "2000",
    WEBHOOK_BASE_BACKOFF_MS: "100",
    WEBHOOK_MAX_BACKOFF_MS: "2000",
  },
  // The pledge process starts with its relay off: committed events stay in its outbox.
  serviceEnv: { pledge: { OUTBOX_RELAY_ENABLED: "false" } },
});

interface Pledge {
  id: string;
  campaignId: string;
  amountMinor: number;
  status: string;
  receiptToken?: string;
}

interface Guest {
  email: string;
  accountId: string;
  secret: string;
}

let admin: Session;
let owner: Session;

beforeAll(async () => {
  admin = await login(sys.gw, ADMIN.email, ADMIN.password);
  owner = await register(sys.gw, "Crash Owner");
});

const newCampaign = (title: string) =>
  createCampaign(sys.gw, owner, title, { description: "Crash test", goalMinor: 1_000_000 });

async function newGuest(): Promise<Guest> {
  const account = await openDemoAccount(sys.gw);
  return { email: uniqueEmail("crash"), accountId: account.bankAccountId, secret: account.accountSecret };
}

/** A guest pledge through the gateway; retried (same key) while the campaign is not yet known to pledge. */
async function pledge(campaignId: string, guest: Guest, amountMinor: number): Promise<Pledge> {
  const key = `crash-${crypto.randomUUID()}`;
  const body = {
    amountMinor,
    currency: "BDT",
    donor: { email: guest.email, name: "Crash Guest" },
    source: { bankAccountId: guest.accountId, accountSecret: guest.secret },
  };
  return waitFor(
    async () => {
      const reply = await call<Pledge>(sys.gw, "POST", `/api/campaigns/${campaignId}/pledges`, body, {
        headers: { "idempotency-key": key },
      });
      if (reply.status === 202) return reply.body;
      if (reply.status === 404) return undefined;
      throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: "the pledge to be accepted" },
  );
}

async function readPledge(p: Pledge): Promise<Pledge> {
  return expectCall<Pledge>(200, sys.gw, "GET", `/api/pledges/${p.id}`, undefined, {
    headers: { "x-receipt-token": p.receiptToken ?? "" },
  });
}

async function waitCaptured(p: Pledge, timeoutMs = 90_000): Promise<void> {
  await waitFor(async () => (await readPledge(p)).status === "captured", {
    timeoutMs,
    intervalMs: 200,
    what: `pledge ${p.id} to be captured`,
  });
}

async function pendingOutboxEvents(): Promise<number | undefined> {
  const reply = await call<string>(sys.stack.urls.pledge, "GET", "/metrics");
  return gauge(reply.text, "careforall_outbox_pending_events");
}

/** The campaign's bank account: one capture entry per hold, summing to `sum`. */
async function expectCapturedOnce(campaignId: string, count: number, sum: number): Promise<void> {
  const account = await expectCall<{ bankAccountId: string; balanceMinor: number }>(
    200,
    sys.stack.urls.bank,
    "GET",
    `/bank/accounts/by-owner/campaign/${campaignId}`,
  );
  const page = await expectCall<{ items: Array<{ kind: string; holdId: string; amountMinor: number }> }>(
    200,
    sys.stack.urls.bank,
    "GET",
    `/bank/accounts/${account.bankAccountId}/transactions?limit=100`,
  );
  const captures = page.items.filter((i) => i.kind === "capture");
  expect(new Set(captures.map((c) => c.holdId)).size).toBe(captures.length);
  expect({ captures: captures.length, sum: captures.reduce((s, c) => s + c.amountMinor, 0) }).toEqual({
    captures: count,
    sum,
  });
  expect(account.balanceMinor).toBe(sum);
}

async function expectCleanAudit(campaignId: string, raisedMinor: number): Promise<void> {
  // The campaign total follows pledge.captured asynchronously: poll until the audit agrees.
  const audit = await waitFor(
    async () => {
      const a = await expectCall<{
        totalDriftMinor: number;
        stuckPledges: number;
        campaigns: Array<{ campaignId: string; raisedMinor: number; bankBalanceMinor: number }>;
      }>(200, sys.gw, "GET", "/api/admin/audit", undefined, { token: admin.accessToken });
      const line = a.campaigns.find((c) => c.campaignId === campaignId);
      return a.totalDriftMinor === 0 && line?.raisedMinor === raisedMinor ? a : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 250, what: "a clean audit" },
  );
  expect({ drift: audit.totalDriftMinor, stuck: audit.stuckPledges }).toEqual({ drift: 0, stuck: 0 });
  const bankMetrics = await call<string>(sys.stack.urls.bank, "GET", "/metrics");
  expect(gauge(bankMetrics.text, "careforall_bank_ledger_imbalance_minor")).toBe(0);
}

test("pledge: committed, SIGKILLed before its relay published, reaches the bus after the restart", async () => {
  await sys.guard(async () => {
    const campaignId = await newCampaign("Crash before publish");
    const guest = await newGuest();
    const accepted = await pledge(campaignId, guest, 4321);
    expect(accepted.status).toBe("pending");

    // Committed: pledge.created sits in the outbox, unpublished; nothing downstream has seen it.
    expect(await pendingOutboxEvents()).toBeGreaterThanOrEqual(1);
    const observeUntil = Date.now() + 1500;
    while (Date.now() < observeUntil) {
      expect((await readPledge(accepted)).status).toBe("pending");
      expect((await call(sys.stack.urls.payment, "GET", `/payments/by-pledge/${accepted.id}`)).status).toBe(404);
      await Bun.sleep(250);
    }

    await sys.stack.kill("pledge");
    await sys.restart("pledge", {});

    await waitCaptured(accepted, 30_000);
    const payment = await expectCall<{ status: string }>(
      200,
      sys.stack.urls.payment,
      "GET",
      `/payments/by-pledge/${accepted.id}`,
    );
    expect(payment.status).toBe("captured");
    await waitFor(async () => (await pendingOutboxEvents()) === 0, { timeoutMs: 10_000, what: "an empty outbox" });
    await expectCapturedOnce(campaignId, 1, 4321);
    await expectCleanAudit(campaignId, 4321);
  });
}, 120_000);

test("payment: SIGKILLed right after pledges are accepted, every pledge still converges", async () => {
  await sys.guard(async () => {
    const campaignId = await newCampaign("Crash payment after accept");
    const guest = await newGuest();
    const amounts = [1000, 1100, 1200, 1300, 1400, 1500];
    const accepted = await Promise.all(amounts.map((a) => pledge(campaignId, guest, a)));
    await sys.stack.kill("payment");
    // While payment is down, pledges are still accepted: their pledge.created waits on the bus.
    const whileDown = await pledge(campaignId, guest, 1600);
    expect(whileDown.status).toBe("pending");
    await Bun.sleep(500);
    await sys.restart("payment");

    const all = [...accepted, whileDown];
    await mapLimited(all, 7, (p) => waitCaptured(p));
    const sum = [...amounts, 1600].reduce((s, a) => s + a, 0);
    await expectCapturedOnce(campaignId, all.length, sum);
    const donor = await expectCall<{ balanceMinor: number; heldMinor: number }>(
      200,
      sys.stack.urls.bank,
      "POST",
      "/bank/check-balance",
      { accountId: guest.accountId },
    );
    expect(donor).toMatchObject({ balanceMinor: 1_000_000 - sum, heldMinor: 0 });
    await expectCleanAudit(campaignId, sum);
  });
}, 150_000);

test("payment: SIGKILLed while the bank's authorize answer is on its way, the reconciler converges", async () => {
  await sys.guard(async () => {
    const campaignId = await newCampaign("Crash payment mid-authorize");
    const slow: Guest = { email: uniqueEmail("slow"), accountId: "acct_test_slow", secret: "test" };
    const before = await expectCall<{ balanceMinor: number }>(200, sys.stack.urls.bank, "POST", "/bank/check-balance", {
      accountId: slow.accountId,
    });
    const accepted = await pledge(campaignId, slow, 2500);
    // The payment row commits before the bank call; the slow account keeps the call open ~2 s.
    const payment = await waitFor(
      async () => {
        const reply = await call<{ id: string; status: string }>(
          sys.stack.urls.payment,
          "GET",
          `/payments/by-pledge/${accepted.id}`,
        );
        return reply.status === 200 ? reply.body : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: "the payment row" },
    );
    expect(payment.status).toBe("authorizing");
    await sys.stack.kill("payment");
    // The bank finishes the authorize it was given (a hold exists) while payment is down.
    const hold = await waitFor(
      async () => {
        const reply = await call<{ holdId: string | null; status: string }>(
          sys.stack.urls.bank,
          "GET",
          `/bank/holds/by-key/${payment.id}`,
        );
        return reply.status === 200 ? reply.body : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: "the bank to place the hold" },
    );
    expect(hold.status).toBe("held");
    await sys.restart("payment");

    await waitCaptured(accepted, 30_000);
    const after = await expectCall<{ id: string; status: string; holdId: string }>(
      200,
      sys.stack.urls.payment,
      "GET",
      `/payments/by-pledge/${accepted.id}`,
    );
    expect({ id: after.id, status: after.status, holdId: after.holdId }).toEqual({
      id: payment.id,
      status: "captured",
      holdId: hold.holdId as string,
    });
    await expectCapturedOnce(campaignId, 1, 2500);
    const donor = await expectCall<{ balanceMinor: number; heldMinor: number }>(
      200,
      sys.stack.urls.bank,
      "POST",
      "/bank/check-balance",
      { accountId: slow.accountId },
    );
    expect(donor.balanceMinor).toBe(before.balanceMinor - 2500);
    await expectCleanAudit(campaignId, 2500);
  });
}, 120_000);

test("payment: a cancel that overtakes a pledge.created stranded by a SIGKILL never lets the money go", async () => {
  await sys.guard(async () => {
    const campaignId = await newCampaign("Crash cancel overtakes");
    const donor = await register(sys.gw, "Cancelling Donor");
    const bank = await waitFor(
      async () => {
        const reply = await call<{ bankAccountId: string; balanceMinor: number }>(
          sys.gw,
          "GET",
          "/api/me/bank",
          undefined,
          {
            token: donor.accessToken,
          },
        );
        return reply.status === 200 ? reply.body : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: "the donor's bank account" },
    );
    const sql = postgres(sys.databaseUrl, { max: 2, onnotice: () => {} });
    try {
      // Hold the payments table so payment's pledge.created handler blocks inside its transaction:
      // the event is delivered, not acknowledged, and its effect not committed.
      const lock = await sql.reserve();
      await lock`begin`;
      await lock`lock table payment.payments in share mode`;
      const key = `crash-${crypto.randomUUID()}`;
      const accepted = await waitFor(
        async () => {
          const reply = await call<Pledge>(
            sys.gw,
            "POST",
            `/api/campaigns/${campaignId}/pledges`,
            { amountMinor: 3000, currency: "BDT" },
            { token: donor.accessToken, headers: { "idempotency-key": key } },
          );
          if (reply.status === 404) return undefined;
          if (reply.status !== 202) throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
          return reply.body;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: "the pledge to be accepted" },
      );
      await waitFor(
        async () => {
          const [row] = await sql`select count(*)::int as n from pg_stat_activity
            where application_name = 'payment' and wait_event_type = 'Lock' and query ilike '%insert into "payment"."payments"%'`;
          return (row?.n ?? 0) > 0;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: "payment's pledge.created handler to block" },
      );
      await sys.stack.kill("payment");
      await lock`rollback`;
      lock.release();
      await sys.restart("payment");

      // The donor cancels while pledge.created waits out the bus's ack wait for the dead process.
      const cancelled = await expectCall<Pledge>(200, sys.gw, "POST", `/api/pledges/${accepted.id}/cancel`, undefined, {
        token: donor.accessToken,
      });
      expect(cancelled.status).toBe("cancelled");

      // pledge.created comes back after the ack wait: its payment must end without taking the money.
      const FINAL = ["released", "failed", "refunded", "expired", "captured"];
      const payment = await waitFor(
        async () => {
          const reply = await call<{ status: string; cancelRequested: boolean }>(
            sys.stack.urls.payment,
            "GET",
            `/payments/by-pledge/${accepted.id}`,
          );
          return reply.status === 200 && FINAL.includes(reply.body.status) ? reply.body : undefined;
        },
        { timeoutMs: 100_000, intervalMs: 250, what: "the stranded pledge.created to be handled" },
      );
      expect(payment.status).not.toBe("captured");
      expect(payment.cancelRequested).toBe(true);
      const after = await expectCall<{ balanceMinor: number; heldMinor: number }>(
        200,
        sys.stack.urls.bank,
        "POST",
        "/bank/check-balance",
        { accountId: bank.bankAccountId },
      );
      expect(after).toMatchObject({ balanceMinor: bank.balanceMinor, heldMinor: 0 });
      expect(
        (
          await expectCall<Pledge>(200, sys.gw, "GET", `/api/pledges/${accepted.id}`, undefined, {
            token: donor.accessToken,
          })
        ).status,
      ).toBe("cancelled");
      await expectCleanAudit(campaignId, 0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
}, 180_000);

test("campaign: a refund that overtakes a pledge.captured stranded by a SIGKILL is not lost", async () => {
  await sys.guard(async () => {
    const campaignId = await newCampaign("Crash refund overtakes");
    const guest = await newGuest();
    const sql = postgres(sys.databaseUrl, { max: 2, onnotice: () => {} });
    try {
      const totalsHandled = async () => {
        const [row] = await sql`select count(*)::int as n from campaign.inbox where consumer = 'campaign-totals'`;
        return row?.n ?? 0;
      };
      const handledBefore = await totalsHandled();
      // Hold the donations table so campaign's pledge.captured handler blocks inside its transaction.
      const lock = await sql.reserve();
      await lock`begin`;
      await lock`lock table campaign.donations in share mode`;
      const accepted = await pledge(campaignId, guest, 3500);
      await waitCaptured(accepted, 30_000);
      await waitFor(
        async () => {
          const [row] = await sql`select count(*)::int as n from pg_stat_activity
            where application_name = 'campaign' and wait_event_type = 'Lock' and query ilike '%insert into "campaign"."donations"%'`;
          return (row?.n ?? 0) > 0;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: "campaign's pledge.captured handler to block" },
      );
      await sys.stack.kill("campaign");
      await lock`rollback`;
      lock.release();
      await sys.restart("campaign");

      // An admin refunds while pledge.captured waits out the bus's ack wait for the dead process.
      await expectCall(202, sys.gw, "POST", `/api/pledges/${accepted.id}/refund`, undefined, {
        token: admin.accessToken,
      });
      await waitFor(async () => (await readPledge(accepted)).status === "refunded", {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: "the pledge to be refunded",
      });
      // Both events reach the totals consumer, in whatever order: wait until it has handled both.
      await waitFor(async () => (await totalsHandled()) >= handledBefore + 2, {
        timeoutMs: 90_000,
        intervalMs: 250,
        what: "the stranded pledge.captured to be handled",
      });
      const account = await expectCall<{ bankAccountId: string; balanceMinor: number }>(
        200,
        sys.stack.urls.bank,
        "GET",
        `/bank/accounts/by-owner/campaign/${campaignId}`,
      );
      const entries = await expectCall<{ items: Array<{ kind: string; amountMinor: number }> }>(
        200,
        sys.stack.urls.bank,
        "GET",
        `/bank/accounts/${account.bankAccountId}/transactions?limit=100`,
      );
      expect(entries.items.map((e) => [e.kind, e.amountMinor]).sort()).toEqual([
        ["capture", 3500],
        ["refund", -3500],
      ]);
      expect(account.balanceMinor).toBe(0);
      const campaign = await expectCall<{ raisedMinor: number; pledgeCount: number; donorCount: number }>(
        200,
        sys.stack.urls.campaign,
        "GET",
        `/campaigns/${campaignId}`,
      );
      expect(campaign).toMatchObject({ raisedMinor: 0, pledgeCount: 0, donorCount: 0 });
      await expectCleanAudit(campaignId, 0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
}, 180_000);
