// The replicated topology end to end (issue 12, "Deployment"): two pledge, two payment and two
// gateway processes on one PostgreSQL, Redis and NATS, as compose runs them. The second gateway
// sends its calls to the second pledge and payment, so accepts land on both pledge processes; the
// durable consumers are shared, so both pledge and both payment processes consume events. The
// client is the load balancer: an answer that is no answer (refused, 5xx, 409 in flight) is tried
// again with the same Idempotency-Key on the other gateway. Every donation must settle exactly
// once (one pledge, one capture entry per hold on the bank's ledger, the donor charged once, audit
// drift 0), including when one replica of each is SIGKILLed in the middle of a run. Last, the
// deployed stack's smoke donation (scripts/smoke.ts, the release workflow's compose job) runs here.
import { beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import postgres from "postgres";
import { ROOT, type RunningService } from "../../scripts/stack";
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
  label: "replicas",
  env: {
    RECONCILE_AFTER_MS: "1500",
    RECONCILE_INTERVAL_MS: "500",
    RETRY_BACKOFF_MS: "100,200,500,1000",
    WEBHOOK_BASE_BACKOFF_MS: "100",
    WEBHOOK_MAX_BACKOFF_MS: "2000",
    AUDIT_INTERVAL_SECONDS: "0",
    BANK_TIMEOUT_MS: "5000",
  },
  // A key claimed by the pledge process that is then SIGKILLed answers 409 until its claim goes
  // stale (at least BANK_TIMEOUT_MS + 30 s); the shortest setting keeps the retries short.
  // Events the SIGKILLed payment process held come back to the other one after EVENT_ACK_WAIT_MS.
  serviceEnv: { pledge: { IDEMPOTENCY_LOCK_SECONDS: "10" }, payment: { EVENT_ACK_WAIT_MS: "8000" } },
});

interface Pledge {
  id: string;
  campaignId: string;
  amountMinor: number;
  status: string;
  receiptToken?: string;
}

/** Who pays: a signed-in donor (their own bank account) or a guest with a demo account. */
type Payer =
  | { kind: "donor"; session: Session; accountId: string }
  | { kind: "guest"; email: string; accountId: string; secret: string };

interface Donation {
  payer: Payer;
  amountMinor: number;
  key: string;
  pledge?: Pledge;
}

let pledge2: RunningService;
let payment2: RunningService;
let gw2: RunningService;
/** Both public origins, as a load balancer sees them. */
let gateways: string[] = [];
let admin: Session;
let owner: Session;

beforeAll(async () => {
  [pledge2, payment2] = await Promise.all([sys.stack.replica("pledge"), sys.stack.replica("payment")]);
  gw2 = await sys.stack.replica("gateway", { PLEDGE_URL: pledge2.url, PAYMENT_URL: payment2.url });
  gateways = [sys.gw, gw2.url];
  admin = await login(sys.gw, ADMIN.email, ADMIN.password);
  owner = await register(sys.gw, "Replicas Owner");
}, 120_000);

const newCampaign = (title: string) =>
  createCampaign(sys.gw, owner, title, { description: "Replicated topology test", goalMinor: 100_000_000 });

async function newGuest(): Promise<Payer> {
  const account = await openDemoAccount(sys.gw);
  return {
    kind: "guest",
    email: uniqueEmail("replica"),
    accountId: account.bankAccountId,
    secret: account.accountSecret,
  };
}

async function newDonor(gw: string): Promise<Payer> {
  const session = await register(gw, "Replica Donor");
  const bank = await waitFor(
    async () => {
      const reply = await call<{ bankAccountId: string }>(gw, "GET", "/api/me/bank", undefined, {
        token: session.accessToken,
      });
      return reply.status === 200 ? reply.body : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: "the donor's bank account" },
  );
  return { kind: "donor", session, accountId: bank.bankAccountId };
}

function donation(payer: Payer, amountMinor: number): Donation {
  return { payer, amountMinor, key: `replica-${crypto.randomUUID()}` };
}

function pledgeRequest(d: Donation): { body: Record<string, unknown>; token: string | undefined } {
  const body: Record<string, unknown> = { amountMinor: d.amountMinor, currency: "BDT" };
  if (d.payer.kind === "guest") {
    body.donor = { email: d.payer.email, name: "Replica Guest" };
    body.source = { bankAccountId: d.payer.accountId, accountSecret: d.payer.secret };
  }
  return { body, token: d.payer.kind === "donor" ? d.payer.session.accessToken : undefined };
}

/**
 * Sends a donation the way a client behind the load balancer does: to gateway `first`, and on no
 * answer (network error, 5xx, 409 while the first attempt is in flight, 404 while pledge does not
 * know the new campaign yet) again with the same key to the other gateway, and so on.
 */
async function submit(
  campaignId: string,
  d: Donation,
  first: number,
): Promise<{ pledge: Pledge; replayed: boolean; via: string }> {
  const { body, token } = pledgeRequest(d);
  let attempt = 0;
  const accepted = await waitFor(
    async () => {
      const gw = gateways[(first + attempt++) % gateways.length] as string;
      let reply: Awaited<ReturnType<typeof call<Pledge>>>;
      try {
        reply = await call<Pledge>(gw, "POST", `/api/campaigns/${campaignId}/pledges`, body, {
          token,
          headers: { "idempotency-key": d.key },
          timeoutMs: 10_000,
        });
      } catch {
        return undefined;
      }
      if (reply.status === 202)
        return { pledge: reply.body, replayed: reply.headers.get("idempotent-replayed") === "true", via: gw };
      if (reply.status === 404 || reply.status === 409 || reply.status >= 500) return undefined;
      throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
    },
    { timeoutMs: 120_000, intervalMs: 100, what: `donation ${d.key} to be accepted` },
  );
  d.pledge = accepted.pledge;
  return accepted;
}

async function readPledge(d: Donation, gw = sys.gw): Promise<Pledge> {
  const p = d.pledge as Pledge;
  return expectCall<Pledge>(200, gw, "GET", `/api/pledges/${p.id}`, undefined, {
    ...(d.payer.kind === "donor"
      ? { token: d.payer.session.accessToken }
      : { headers: { "x-receipt-token": p.receiptToken ?? "" } }),
  });
}

/** A counter's sum over the series of one process's /metrics page whose labels match `labels`. */
async function counter(base: string, name: string, labels: RegExp = /.*/): Promise<number> {
  const text = (await call<string>(base, "GET", "/metrics")).text;
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm")))
    if (labels.test(match[1] ?? "")) sum += Number(match[2]);
  return sum;
}

const ACCEPT_ROUTE = /method="POST".*route="\/campaigns\/:[^"]*\/pledges".*status="202"/;

async function balances(payers: Payer[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const p of new Set(payers)) {
    const b = await expectCall<{ balanceMinor: number; heldMinor: number }>(
      200,
      sys.stack.urls.bank,
      "POST",
      "/bank/check-balance",
      { accountId: p.accountId },
    );
    out.set(p.accountId, b.balanceMinor);
  }
  return out;
}

/**
 * Every donation captured, and exactly once: one pledge row per key, one capture entry per pledge's
 * hold on the campaign's bank account (no hold captured twice), each payer charged exactly its
 * donations, nothing left held, and the audit's drift 0 with the campaign's total where the money is.
 */
async function expectSettledOnce(campaignId: string, donations: Donation[], before: Map<string, number>) {
  await mapLimited(donations, 6, (d) =>
    waitFor(async () => (await readPledge(d)).status === "captured", {
      timeoutMs: 150_000,
      intervalMs: 250,
      what: `pledge ${d.pledge?.id} to be captured`,
    }),
  );
  const sum = donations.reduce((s, d) => s + d.amountMinor, 0);

  const sql = postgres(sys.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ id: string }[]>`select id from pledge.pledges where campaign_id = ${campaignId}`;
    expect(rows.map((r) => r.id).sort()).toEqual(donations.map((d) => d.pledge?.id as string).sort());
  } finally {
    await sql.end({ timeout: 5 });
  }

  const holds = await mapLimited(donations, 6, async (d) => {
    const payment = await expectCall<{ status: string; holdId: string }>(
      200,
      sys.stack.urls.payment,
      "GET",
      `/payments/by-pledge/${d.pledge?.id}`,
    );
    expect(payment.status).toBe("captured");
    return payment.holdId;
  });
  const account = await expectCall<{ bankAccountId: string; balanceMinor: number }>(
    200,
    sys.stack.urls.bank,
    "GET",
    `/bank/accounts/by-owner/campaign/${campaignId}`,
  );
  const ledger = await expectCall<{ items: Array<{ kind: string; holdId: string; amountMinor: number }> }>(
    200,
    sys.stack.urls.bank,
    "GET",
    `/bank/accounts/${account.bankAccountId}/transactions?limit=100`,
  );
  const captures = ledger.items.filter((i) => i.kind === "capture");
  expect(captures.map((c) => c.holdId).sort()).toEqual([...holds].sort());
  expect(captures.reduce((s, c) => s + c.amountMinor, 0)).toBe(sum);
  expect(account.balanceMinor).toBe(sum);

  const after = await balances(donations.map((d) => d.payer));
  for (const [accountId, balance] of after) {
    const paid = donations.filter((d) => d.payer.accountId === accountId).reduce((s, d) => s + d.amountMinor, 0);
    expect({ accountId, balance }).toEqual({ accountId, balance: (before.get(accountId) as number) - paid });
  }
  for (const accountId of after.keys()) {
    const b = await expectCall<{ heldMinor: number }>(200, sys.stack.urls.bank, "POST", "/bank/check-balance", {
      accountId,
    });
    expect(b.heldMinor).toBe(0);
  }

  const audit = await waitFor(
    async () => {
      const a = await expectCall<{
        totalDriftMinor: number;
        stuckPledges: number;
        campaigns: Array<{ campaignId: string; raisedMinor: number }>;
      }>(200, gateways[0] as string, "GET", "/api/admin/audit", undefined, { token: admin.accessToken });
      const line = a.campaigns.find((c) => c.campaignId === campaignId);
      return a.totalDriftMinor === 0 && line?.raisedMinor === sum ? a : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: "a clean audit" },
  );
  expect({ drift: audit.totalDriftMinor, stuck: audit.stuckPledges }).toEqual({ drift: 0, stuck: 0 });
  expect(
    gauge((await call<string>(sys.stack.urls.bank, "GET", "/metrics")).text, "careforall_bank_ledger_imbalance_minor"),
  ).toBe(0);
}

describe("two pledge, two payment and two gateway processes", () => {
  test("donations through both gateways (signed-in and guest, keys replayed across gateways) settle exactly once, and every replica works", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Replicated donations");
      const payers = [await newDonor(gateways[0] as string), await newDonor(gateways[1] as string)];
      payers.push(await newGuest(), await newGuest());
      const before = await balances(payers);
      const pledges = [sys.stack.urls.pledge, pledge2.url];
      const payments = [sys.stack.urls.payment, payment2.url];
      const handled = (bases: string[]) =>
        Promise.all(bases.map((b) => counter(b, "careforall_bus_events_handled_total")));

      const donations: Donation[] = [];
      // Waves of eight until both payment and both pledge processes have consumed events (the
      // durable consumers are shared: which process takes an event is the bus's choice), at most five.
      for (let wave = 0; wave < 5; wave++) {
        const batch = Array.from({ length: 8 }, (_, i) =>
          donation(payers[i % payers.length] as Payer, 100 + wave * 8 + i),
        );
        donations.push(...batch);
        await mapLimited(batch, 4, async (d) => {
          const i = donations.indexOf(d);
          const first = await submit(campaignId, d, i % 2);
          // The same request again through the other gateway: the stored answer, no second pledge.
          const { body, token } = pledgeRequest(d);
          const other = gateways[(gateways.indexOf(first.via) + 1) % 2] as string;
          const replay = await call<Pledge>(other, "POST", `/api/campaigns/${campaignId}/pledges`, body, {
            token,
            headers: { "idempotency-key": d.key },
          });
          expect(replay.status).toBe(202);
          expect(replay.headers.get("idempotent-replayed")).toBe("true");
          expect(replay.body.id).toBe(first.pledge.id);
        });
        await mapLimited(batch, 6, (d) =>
          waitFor(async () => (await readPledge(d, gateways[1])).status === "captured", {
            timeoutMs: 90_000,
            intervalMs: 250,
            what: `pledge ${d.pledge?.id} to be captured`,
          }),
        );
        const [pl, pa] = await Promise.all([handled(pledges), handled(payments)]);
        if ([...pl, ...pa].every((n) => n > 0)) break;
      }

      // Accepts on both pledge processes (each gateway calls its own), events consumed on all four.
      const accepts = await Promise.all(pledges.map((b) => counter(b, "careforall_http_requests_total", ACCEPT_ROUTE)));
      expect(accepts.every((n) => n > 0)).toBe(true);
      expect(accepts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(donations.length);
      const [pl, pa] = await Promise.all([handled(pledges), handled(payments)]);
      expect({ pledge: pl.map((n) => n > 0), payment: pa.map((n) => n > 0) }).toEqual({
        pledge: [true, true],
        payment: [true, true],
      });
      await expectSettledOnce(campaignId, donations, before);
    });
  }, 240_000);

  test("one gateway, one pledge and one payment process SIGKILLed mid-run: nothing is lost, nothing settles twice", async () => {
    await sys.guard(async () => {
      const campaignId = await newCampaign("Replicas killed mid-run");
      const payers = [await newDonor(gateways[0] as string), await newGuest(), await newGuest()];
      const before = await balances(payers);
      const donations = Array.from({ length: 30 }, (_, i) => donation(payers[i % payers.length] as Payer, 200 + i));

      let accepted = 0;
      let killed: Promise<void> | undefined;
      const killReplicas = async () => {
        for (const svc of [gw2, pledge2, payment2]) svc.proc.kill("SIGKILL");
        await Promise.all([gw2, pledge2, payment2].map((s) => s.proc.exited));
      };
      await mapLimited(donations, 4, async (d) => {
        await submit(campaignId, d, donations.indexOf(d) % 2);
        // A third of the way in, with donations in flight on every process: one of each dies.
        if (++accepted === 10) killed = killReplicas();
      });
      await killed;
      expect([gw2, pledge2, payment2].map((s) => s.proc.signalCode)).toEqual(["SIGKILL", "SIGKILL", "SIGKILL"]);
      gateways = [sys.gw];
      await expectSettledOnce(campaignId, donations, before);
    });
  }, 300_000);

  test("scripts/smoke.ts, the deployed stack's smoke donation, passes against the surviving processes", async () => {
    await sys.guard(async () => {
      const proc = Bun.spawn(["bun", "scripts/smoke.ts", sys.gw], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([
        proc.exited,
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ]);
      expect({ code, err }).toEqual({ code: 0, err: "" });
      expect(out).toMatch(/signed-in donor pledge \S+ captured/);
      expect(out).toMatch(/guest pledge \S+ captured/);
      expect(out).toContain("campaign total 4000 — ok");
    });
  }, 120_000);
});
