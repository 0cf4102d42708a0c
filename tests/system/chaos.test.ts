// The chaos run: the whole platform as separate processes, a bank that fails calls, loses
// responses and duplicates, reorders and drops webhooks, a monkey that SIGKILLs pledge, payment
// and campaign while hundreds of donations arrive from clients that retry like real ones (some
// signed-in donors cancel at once, racing the capture; an admin refunds some captured pledges).
// Then every invariant of the money path is checked from the outside: every accepted pledge ends
// terminal, nobody is charged twice, totals, pledges and the bank agree, the ledger balances.
import { expect, test } from "bun:test";
import type { ServiceName } from "../../scripts/stack";
import {
  ADMIN,
  call,
  expectCall,
  gauge,
  login,
  mapLimited,
  openDemoAccount,
  randomInt,
  register,
  type Session,
  sleep,
  uniqueEmail,
  useSystem,
} from "./support";

const CAMPAIGNS = 24;
const GUESTS = 30;
const USERS = 4;
/** Accepted donations the run must reach; more are made while the monkey has not done its minimum. */
const TARGET_DONATIONS = 520;
const MAX_DONATIONS = 2_000;
/** Donations from acct_test_declined: the failure path under the same chaos. */
const DECLINED_SHARE = 0.02;
/** New donations per second (retries are not paced), so the load spans several kills. */
const NEW_PER_SECOND = 20;
const IN_FLIGHT = 14;
/** Share of signed-in donors' pledges they cancel right after the 202 (racing authorize/capture). */
const CANCEL_SHARE = 0.35;
/** Captured pledges an admin refunds while the load runs. */
const REFUNDS = 20;
const MIN_KILLS = 6;
const VICTIMS: readonly ServiceName[] = ["pledge", "payment", "campaign"];
const DEMO_BALANCE = 1_000_000;
/** One donation may keep retrying this long: a killed pledge process leaves its key in flight ~32 s. */
const DONATION_DEADLINE_MS = 90_000;
const CONVERGE_DEADLINE_MS = 120_000;
const TERMINAL = new Set(["captured", "failed", "cancelled", "expired", "refunded"]);
/** Terminal, and not a captured pledge an admin asked to refund (that one must still become refunded). */
const settled = (a: { status: string; refundRequested?: boolean }) =>
  TERMINAL.has(a.status) && !(a.refundRequested && a.status === "captured");

const sys = useSystem({
  label: "chaos",
  env: {
    // Payment: converge quickly after unknown outcomes and kills.
    RECONCILE_AFTER_MS: "1500",
    RECONCILE_INTERVAL_MS: "500",
    RETRY_BACKOFF_MS: "200,500,1000,2000",
    BANK_TIMEOUT_MS: "3000",
    // Bank: quick webhook retries, short reorder hold-back.
    WEBHOOK_BASE_BACKOFF_MS: "100",
    WEBHOOK_MAX_BACKOFF_MS: "2000",
    WEBHOOK_TIMEOUT_MS: "3000",
    WEBHOOK_REORDER_DELAY_MS: "500",
    WEBHOOK_POLL_MS: "100",
    // Pledge: an in-flight key of a killed process is taken over as early as the service allows.
    IDEMPOTENCY_LOCK_SECONDS: "10",
    STUCK_AFTER_SECONDS: "30",
  },
});

// ── The client's model of the world ──────────────────────────────────────────────────────────

interface Donor {
  label: string;
  /** Where the money comes from (guests: their demo account; users: their own account). */
  accountId: string;
  /** Guests send donor + source; users send a Bearer token. */
  guest?: { email: string; name: string; secret: string };
  token?: string;
  /** The donor identity the campaign counts distinct donors by. */
  donorKey: string;
  declined?: boolean;
}

interface Donation {
  key: string;
  campaignId: string;
  amountMinor: number;
  donor: Donor;
  body: Record<string, unknown>;
  startedAt: number;
  attempts: number;
  notBefore: number;
}

interface Accepted {
  id: string;
  key: string;
  campaignId: string;
  amountMinor: number;
  donor: Donor;
  receiptToken?: string;
  status: string;
  failureReason: string | null;
  acceptedAt: number;
  /** The donor's cancel: 200 (cancelled), 409 (too late), or unknown (409 after an attempt whose answer was lost). */
  cancel?: 200 | 409 | "unknown";
  refundRequested?: boolean;
}

interface PledgeBody {
  id: string;
  campaignId: string;
  amountMinor: number;
  status: string;
  failureReason: string | null;
  receiptToken?: string;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

function readHeaders(a: { donor: Donor; receiptToken?: string | undefined }) {
  if (a.donor.token) return { token: a.donor.token };
  return { headers: { "x-receipt-token": a.receiptToken ?? "" } };
}

test("the money path survives kills, bank faults and webhook chaos", async () => {
  await sys.guard(async () => {
    const started = Date.now();
    const phase = (what: string) => console.log(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
    const { gw, stack } = sys;
    const admin = await login(gw, ADMIN.email, ADMIN.password);

    // ── Faults on, through the public admin API ──────────────────────────────────────────────
    const faults = {
      errorRate: 0.1,
      lostResponseRate: 0.1,
      latencyMs: 5,
      webhookDuplicateRate: 0.3,
      webhookReorder: true,
      webhookDropRate: 0.05,
    };
    expect(await expectCall(200, gw, "PUT", "/api/admin/bank/faults", faults, { token: admin.accessToken })).toEqual(
      faults,
    );

    // ── Campaigns (by a registered owner) and donors ─────────────────────────────────────────
    const owner = await register(gw, "Olive Owner");
    const campaigns = await mapLimited(
      Array.from({ length: CAMPAIGNS }, (_, i) => i),
      6,
      (i) =>
        expectCall<{ id: string }>(
          201,
          gw,
          "POST",
          "/api/campaigns",
          { title: `Chaos relief ${i + 1}`, description: "System test", goalMinor: 5_000_000, currency: "BDT" },
          { token: owner.accessToken },
        ),
    );
    const campaignIds = campaigns.map((c) => c.id);

    const guests: Donor[] = await mapLimited(
      Array.from({ length: GUESTS }, (_, i) => i),
      6,
      async (i) => {
        const account = await openDemoAccount(gw);
        const email = uniqueEmail(`guest${i}`);
        return {
          label: `guest${i}`,
          accountId: account.bankAccountId,
          guest: { email, name: `Guest ${i}`, secret: account.accountSecret },
          donorKey: email,
        };
      },
    );
    const declinedEmail = uniqueEmail("declined");
    const declined: Donor = {
      label: "declined",
      accountId: "acct_test_declined",
      guest: { email: declinedEmail, name: "Declined Guest", secret: "test" },
      donorKey: declinedEmail,
      declined: true,
    };
    const users: Donor[] = await mapLimited(
      Array.from({ length: USERS }, (_, i) => i),
      4,
      async (i) => {
        const session: Session = await register(gw, `Signed-in Donor ${i}`);
        // Registration opens the user's bank account asynchronously (user.registered → bank).
        let bank: { bankAccountId: string } | undefined;
        const until = Date.now() + 30_000;
        while (!bank && Date.now() < until) {
          const reply = await call<{ bankAccountId: string }>(gw, "GET", "/api/me/bank", undefined, {
            token: session.accessToken,
          });
          if (reply.status === 200) bank = reply.body;
          else await sleep(100);
        }
        if (!bank) throw new Error(`user ${i}'s bank account was never opened`);
        return {
          label: `user${i}`,
          accountId: bank.bankAccountId,
          token: session.accessToken,
          donorKey: session.user.id,
        };
      },
    );
    const payers = [...guests, ...users];
    phase(`${campaigns.length} campaigns, ${guests.length} guests, ${users.length} users ready; load starts`);

    // ── Load and chaos ───────────────────────────────────────────────────────────────────────
    const accepted: Accepted[] = [];
    const rejected: Array<{ donation: Donation; status: number; text: string }> = [];
    const retryCounts = { network: 0, server: 0, inFlight: 0, unknownCampaign: 0 };
    const waiting: Donation[] = [];
    let created = 0;
    let inFlight = 0;
    const kills: Array<{ service: ServiceName; at: number; downMs: number }> = [];
    const cancels = { 200: 0, 409: 0 };
    const cancelling = new Set<string>();
    const refunds = { requested: 0 };
    const monkeySatisfied = () => kills.length >= MIN_KILLS && VICTIMS.every((v) => kills.some((k) => k.service === v));
    const loadStarted = Date.now();

    function newDonation(): Donation {
      const donor = Math.random() < DECLINED_SHARE ? declined : pick(payers);
      const amountMinor = randomInt(100, 5000);
      const campaignId = pick(campaignIds);
      const body: Record<string, unknown> = { amountMinor, currency: "BDT" };
      if (donor.guest) {
        body.donor = { email: donor.guest.email, name: donor.guest.name };
        body.source = { bankAccountId: donor.accountId, accountSecret: donor.guest.secret };
      }
      created++;
      const now = Date.now();
      return {
        key: `chaos-${created}-${crypto.randomUUID()}`,
        campaignId,
        amountMinor,
        donor,
        body,
        startedAt: now,
        attempts: 0,
        notBefore: now,
      };
    }

    const wantsMore = () => created < MAX_DONATIONS && (created < TARGET_DONATIONS || !monkeySatisfied());
    const paced = () => created < ((Date.now() - loadStarted) / 1000) * NEW_PER_SECOND + IN_FLIGHT;

    function nextDonation(): Donation | undefined {
      const now = Date.now();
      const due = waiting.findIndex((d) => d.notBefore <= now);
      if (due >= 0) return waiting.splice(due, 1)[0];
      if (wantsMore() && paced()) return newDonation();
      return undefined;
    }

    /** One attempt; a retryable outcome puts the donation back with a backoff (same key, same body). */
    async function attempt(d: Donation): Promise<void> {
      d.attempts++;
      let status = 0;
      let text = "";
      let body: PledgeBody | undefined;
      try {
        const reply = await call<PledgeBody>(gw, "POST", `/api/campaigns/${d.campaignId}/pledges`, d.body, {
          token: d.donor.token,
          headers: { "idempotency-key": d.key },
          timeoutMs: 15_000,
        });
        status = reply.status;
        text = reply.text;
        body = reply.body;
      } catch {
        retryCounts.network++;
      }
      if (status === 202 && body) {
        expect({ campaignId: body.campaignId, amountMinor: body.amountMinor }).toEqual({
          campaignId: d.campaignId,
          amountMinor: d.amountMinor,
        });
        const a: Accepted = {
          id: body.id,
          key: d.key,
          campaignId: d.campaignId,
          amountMinor: d.amountMinor,
          donor: d.donor,
          ...(body.receiptToken ? { receiptToken: body.receiptToken } : {}),
          status: body.status,
          failureReason: body.failureReason,
          acceptedAt: Date.now(),
        };
        accepted.push(a);
        if (d.donor.token && Math.random() < CANCEL_SHARE) await cancel(a);
        return;
      }
      if (status >= 500) retryCounts.server++;
      else if (status === 409) retryCounts.inFlight++;
      // The pledge service's campaign read model may lag campaign.created; the key is not stored.
      else if (status === 404 && /Campaign/.test(text)) retryCounts.unknownCampaign++;
      else if (status !== 0) {
        rejected.push({ donation: d, status, text });
        return;
      }
      if (Date.now() - d.startedAt > DONATION_DEADLINE_MS)
        throw new Error(`donation ${d.key} still not accepted after ${d.attempts} attempts: ${status} ${text}`);
      d.notBefore = Date.now() + Math.min(250 * d.attempts, 2000) + randomInt(0, 250);
      waiting.push(d);
    }

    /** The donor changes their mind at once; retried on outages until a definite answer. */
    async function cancel(a: Accepted): Promise<void> {
      const until = Date.now() + DONATION_DEADLINE_MS;
      let answerLost = false;
      cancelling.add(a.id);
      try {
        while (Date.now() < until) {
          const reply = await call(gw, "POST", `/api/pledges/${a.id}/cancel`, undefined, {
            token: a.donor.token,
          }).catch(() => undefined);
          if (reply?.status === 200 || reply?.status === 409) {
            // A 409 after a lost answer may be our own cancel, already applied.
            a.cancel = reply.status === 409 && answerLost ? "unknown" : reply.status;
            cancels[reply.status]++;
            return;
          }
          if (reply && reply.status < 500) throw new Error(`cancel ${a.id}: ${reply.status} ${reply.text}`);
          answerLost = true;
          await sleep(randomInt(200, 500));
        }
        throw new Error(`cancel ${a.id} never got an answer`);
      } finally {
        cancelling.delete(a.id);
      }
    }

    /** An admin refunds captured pledges while the load (and the monkey) runs. */
    async function refunder(): Promise<void> {
      let tried = 0;
      while (!loadDone && refunds.requested < REFUNDS && tried < 2000) {
        await sleep(150);
        const candidates = accepted.filter(
          (a) =>
            !a.refundRequested && a.cancel === undefined && !cancelling.has(a.id) && Date.now() - a.acceptedAt > 1000,
        );
        if (candidates.length === 0) continue;
        const a = pick(candidates);
        tried++;
        const read = await call<PledgeBody>(gw, "GET", `/api/pledges/${a.id}`, undefined, readHeaders(a)).catch(
          () => undefined,
        );
        if (read?.status !== 200 || read.body.status !== "captured") continue;
        // Retried on outages (asking again while the refund is pending changes nothing).
        const until = Date.now() + 30_000;
        while (!a.refundRequested && Date.now() < until) {
          const reply = await call(gw, "POST", `/api/pledges/${a.id}/refund`, undefined, {
            token: admin.accessToken,
          }).catch(() => undefined);
          if (reply?.status === 202) {
            a.refundRequested = true;
            refunds.requested++;
          } else if (reply && reply.status < 500) throw new Error(`refund ${a.id}: ${reply.status} ${reply.text}`);
          else await sleep(300);
        }
      }
    }

    async function client(): Promise<void> {
      for (;;) {
        const d = nextDonation();
        if (d) {
          inFlight++;
          try {
            await attempt(d);
          } finally {
            inFlight--;
          }
          continue;
        }
        if (!wantsMore() && waiting.length === 0 && inFlight === 0) return;
        await sleep(10);
      }
    }

    let loadDone = false;
    async function monkey(): Promise<void> {
      while (!loadDone) {
        const wakeAt = Date.now() + randomInt(1500, 3000);
        while (!loadDone && Date.now() < wakeAt) await sleep(50);
        if (loadDone) return;
        const untouched = VICTIMS.filter((v) => !kills.some((k) => k.service === v));
        const victim = pick(untouched.length > 0 ? untouched : VICTIMS);
        const at = Date.now();
        await stack.kill(victim);
        await sleep(randomInt(500, 1000));
        await sys.restart(victim);
        kills.push({ service: victim, at: at - loadStarted, downMs: Date.now() - at });
        phase(`killed ${victim}, back after ${Date.now() - at} ms (${accepted.length} accepted so far)`);
      }
    }

    const monkeyRun = monkey();
    const refunderRun = refunder();
    try {
      await Promise.all(Array.from({ length: IN_FLIGHT }, client));
    } finally {
      loadDone = true;
      await monkeyRun;
      await refunderRun;
    }
    const loadMs = Date.now() - loadStarted;
    phase(`load done: ${accepted.length} accepted, ${kills.length} kills; waiting for terminal states`);

    expect(rejected.map((r) => `${r.status} ${r.text.slice(0, 200)}`)).toEqual([]);
    expect(accepted.length).toBe(created);
    expect(accepted.length).toBeGreaterThanOrEqual(TARGET_DONATIONS);
    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
    for (const v of VICTIMS) expect(kills.some((k) => k.service === v)).toBe(true);
    // Distinct keys made distinct pledges.
    expect(new Set(accepted.map((a) => a.id)).size).toBe(accepted.length);

    // ── Convergence: every accepted pledge reaches a terminal state ─────────────────────────
    // The faults stay on: the reconciler and webhook retries have to win against them.
    const convergeStarted = Date.now();
    const unreadable = new Map<string, string>();
    for (;;) {
      const open = accepted.filter((a) => !settled(a));
      if (open.length === 0) break;
      if (Date.now() - convergeStarted > CONVERGE_DEADLINE_MS) {
        const sample = await mapLimited(open.slice(0, 10), 5, async (a) => {
          const payment = await call(stack.urls.payment, "GET", `/payments/by-pledge/${a.id}`);
          return `${a.id} ${a.status} payment=${payment.text.slice(0, 400)}`;
        });
        throw new Error(`${open.length} pledges never became terminal:\n${sample.join("\n")}`);
      }
      await mapLimited(open, 16, async (a) => {
        const reply = await call<PledgeBody>(gw, "GET", `/api/pledges/${a.id}`, undefined, readHeaders(a));
        if (reply.status !== 200) {
          unreadable.set(a.id, `${reply.status} ${reply.text.slice(0, 200)}`);
          return;
        }
        unreadable.delete(a.id);
        a.status = reply.body.status;
        a.failureReason = reply.body.failureReason;
      });
      if (accepted.some((a) => !settled(a))) await sleep(500);
    }
    const convergeMs = Date.now() - convergeStarted;
    phase("every pledge terminal; checking the ledgers");

    // Every accepted pledge is present and readable by its donor (one final read of each).
    await mapLimited(accepted, 16, async (a) => {
      const reply = await call<PledgeBody>(gw, "GET", `/api/pledges/${a.id}`, undefined, readHeaders(a));
      if (reply.status !== 200) unreadable.set(a.id, `${reply.status} ${reply.text.slice(0, 200)}`);
      else {
        expect({ id: reply.body.id, campaignId: reply.body.campaignId, amountMinor: reply.body.amountMinor }).toEqual({
          id: a.id,
          campaignId: a.campaignId,
          amountMinor: a.amountMinor,
        });
        a.status = reply.body.status;
      }
    });
    expect([...unreadable]).toEqual([]);

    // Retrying a sample of keys replays the first answer: no second pledge.
    await mapLimited(accepted.slice(0, 40), 8, async (a) => {
      const body: Record<string, unknown> = { amountMinor: a.amountMinor, currency: "BDT" };
      if (a.donor.guest) {
        body.donor = { email: a.donor.guest.email, name: a.donor.guest.name };
        body.source = { bankAccountId: a.donor.accountId, accountSecret: a.donor.guest.secret };
      }
      const reply = await call<PledgeBody>(gw, "POST", `/api/campaigns/${a.campaignId}/pledges`, body, {
        token: a.donor.token,
        headers: { "idempotency-key": a.key },
      });
      expect({ status: reply.status, id: reply.body.id, replayed: reply.headers.get("idempotent-replayed") }).toEqual({
        status: 202,
        id: a.id,
        replayed: "true",
      });
    });

    // Each pledge ended where its story says: cancelled when the cancel was accepted, refunded when
    // an admin asked, failed for the declined account, captured otherwise (only the declined
    // account fails: every other one holds far more than it gives).
    const expectedStatus = (a: Accepted) =>
      a.cancel === 200 || (a.cancel === "unknown" && a.status === "cancelled")
        ? "cancelled"
        : a.refundRequested
          ? "refunded"
          : a.donor.declined
            ? "failed"
            : "captured";
    expect(
      accepted.filter((a) => a.status !== expectedStatus(a)).map((a) => `${a.id} ${a.status} ≠ ${expectedStatus(a)}`),
    ).toEqual([]);
    expect(accepted.filter((a) => a.status === "failed" && a.failureReason !== "declined").map((a) => a.id)).toEqual(
      [],
    );
    const captured = accepted.filter((a) => a.status === "captured");
    const failed = accepted.filter((a) => a.status === "failed");
    const cancelled = accepted.filter((a) => a.status === "cancelled");
    const refunded = accepted.filter((a) => a.status === "refunded");

    // Every pledge has its payment, settled where the pledge is (a cancelled pledge's payment may
    // still be releasing, or even not exist yet when its pledge.created was stranded by a kill).
    const payments = new Map<string, { status: string; holdId: string | null }>();
    const settledPayment: Record<string, string[]> = {
      captured: ["captured"],
      refunded: ["refunded"],
      failed: ["failed"],
      cancelled: ["released", "refunded", "failed"],
    };
    const paymentsStarted = Date.now();
    for (;;) {
      const open = accepted.filter((a) => !settledPayment[a.status]?.includes(payments.get(a.id)?.status ?? ""));
      if (open.length === 0) break;
      if (Date.now() - paymentsStarted > CONVERGE_DEADLINE_MS)
        throw new Error(
          `${open.length} payments never settled: ${open
            .slice(0, 10)
            .map((a) => `${a.id} ${a.status} payment=${payments.get(a.id)?.status ?? "none"}`)
            .join("; ")}`,
        );
      await mapLimited(open, 16, async (a) => {
        const reply = await call<{ status: string; holdId: string | null }>(
          stack.urls.payment,
          "GET",
          `/payments/by-pledge/${a.id}`,
        );
        if (reply.status === 200) payments.set(a.id, reply.body);
      });
      if (accepted.some((a) => !settledPayment[a.status]?.includes(payments.get(a.id)?.status ?? ""))) await sleep(500);
    }
    phase("every payment settled");

    // ── The bank: at most one capture per pledge, and only captured pledges keep money ───────
    // Every entry on every campaign account, by hold; each pledge's hold comes from its payment.
    type Entry = { kind: string; holdId: string | null; amountMinor: number };
    const byHold = new Map<string, Entry[]>();
    const campaignAccounts = new Map<string, { balanceMinor: number; heldMinor: number }>();
    await mapLimited(campaignIds, 6, async (campaignId) => {
      const account = await call<{ bankAccountId: string; balanceMinor: number; heldMinor: number }>(
        stack.urls.bank,
        "GET",
        `/bank/accounts/by-owner/campaign/${campaignId}`,
      );
      if (account.status === 404) return;
      expect(account.status).toBe(200);
      campaignAccounts.set(campaignId, account.body);
      let cursor: string | null = null;
      do {
        const page: { items: Entry[]; nextCursor: string | null } = await expectCall(
          200,
          stack.urls.bank,
          "GET",
          `/bank/accounts/${account.body.bankAccountId}/transactions?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        );
        for (const item of page.items) {
          const list = byHold.get(item.holdId ?? "none") ?? [];
          list.push(item);
          byHold.set(item.holdId ?? "none", list);
        }
        cursor = page.nextCursor;
      } while (cursor);
    });
    const ledgerProblems: string[] = [];
    const seenHolds = new Set<string>();
    for (const a of accepted) {
      const holdId = payments.get(a.id)?.holdId ?? null;
      const entries = holdId ? (byHold.get(holdId) ?? []) : [];
      if (holdId) seenHolds.add(holdId);
      const captures = entries.filter((e) => e.kind === "capture");
      const refundsOf = entries.filter((e) => e.kind === "refund");
      const net = entries.reduce((sum, e) => sum + e.amountMinor, 0);
      const story = `${a.id} (${a.status}, hold ${holdId}): ${captures.length} captures, ${refundsOf.length} refunds, net ${net}`;
      if (captures.length > 1 || refundsOf.length > 1) ledgerProblems.push(`charged twice: ${story}`);
      else if (a.status === "captured" && !(captures.length === 1 && refundsOf.length === 0 && net === a.amountMinor))
        ledgerProblems.push(`captured pledge not charged exactly once: ${story}`);
      else if (a.status !== "captured" && net !== 0)
        ledgerProblems.push(`money kept for a ${a.status} pledge: ${story}`);
      else if (a.status === "refunded" && !(captures.length === 1 && refundsOf.length === 1))
        ledgerProblems.push(`refund without its capture: ${story}`);
      else if (captures[0] && captures[0].amountMinor !== a.amountMinor)
        ledgerProblems.push(`wrong amount captured: ${story} (pledged ${a.amountMinor})`);
    }
    const orphans = [...byHold.keys()].filter((h) => !seenHolds.has(h));
    expect(ledgerProblems).toEqual([]);
    expect(orphans).toEqual([]);
    // A cancelled pledge whose capture won the race was refunded by payment: no net charge.
    const capturedThenCancelled = cancelled.filter((a) => (byHold.get(payments.get(a.id)?.holdId ?? "") ?? []).length);

    // Per campaign: the account holds exactly its captured pledges, nothing stays held.
    const expected = new Map(campaignIds.map((id) => [id, { count: 0, sum: 0, donors: new Set<string>() }]));
    for (const a of captured) {
      const e = expected.get(a.campaignId)!;
      e.count++;
      e.sum += a.amountMinor;
      e.donors.add(a.donor.donorKey);
    }
    for (const id of campaignIds) {
      const account = campaignAccounts.get(id);
      expect({ id, balance: account?.balanceMinor ?? 0, held: account?.heldMinor ?? 0 }).toEqual({
        id,
        balance: expected.get(id)!.sum,
        held: 0,
      });
    }

    // The cached campaign page settles on the captured sum (events, then the snapshot's TTL).
    const totalsStarted = Date.now();
    const totals = new Map<string, { raisedMinor: number; pledgeCount: number; donorCount: number }>();
    for (;;) {
      await mapLimited(campaignIds, 8, async (id) => {
        const reply = await call<{ raisedMinor: number; pledgeCount: number; donorCount: number }>(
          gw,
          "GET",
          `/api/campaigns/${id}`,
        );
        if (reply.status === 200) totals.set(id, reply.body);
      });
      const settled = campaignIds.every((id) => totals.get(id)?.raisedMinor === expected.get(id)!.sum);
      if (settled || Date.now() - totalsStarted > 60_000) break;
      await sleep(500);
    }
    for (const id of campaignIds) {
      const e = expected.get(id)!;
      const t = totals.get(id);
      expect({ id, raisedMinor: t?.raisedMinor, pledgeCount: t?.pledgeCount, donorCount: t?.donorCount }).toEqual({
        id,
        raisedMinor: e.sum,
        pledgeCount: e.count,
        donorCount: e.donors.size,
      });
    }

    // The audit agrees: no drift, nothing stuck.
    type Audit = {
      campaigns: Array<{ campaignId: string; raisedMinor: number; bankBalanceMinor: number; driftMinor: number }>;
      totalDriftMinor: number;
      stuckPledges: number;
    };
    let audit = await expectCall<Audit>(200, gw, "GET", "/api/admin/audit", undefined, { token: admin.accessToken });
    for (const until = Date.now() + 20_000; audit.totalDriftMinor !== 0 && Date.now() < until; ) {
      await sleep(500);
      audit = await expectCall<Audit>(200, gw, "GET", "/api/admin/audit", undefined, { token: admin.accessToken });
    }
    expect({ totalDriftMinor: audit.totalDriftMinor, stuckPledges: audit.stuckPledges }).toEqual({
      totalDriftMinor: 0,
      stuckPledges: 0,
    });
    for (const id of campaignIds) {
      const line = audit.campaigns.find((c) => c.campaignId === id);
      expect({ id, raised: line?.raisedMinor ?? 0, bank: line?.bankBalanceMinor ?? 0 }).toEqual({
        id,
        raised: expected.get(id)!.sum,
        bank: expected.get(id)!.sum,
      });
    }

    // Donors: each was charged exactly its captured pledges, and no hold is left open.
    const chargedBy = new Map<string, number>();
    for (const a of captured) chargedBy.set(a.donor.accountId, (chargedBy.get(a.donor.accountId) ?? 0) + a.amountMinor);
    await mapLimited(payers, 8, async (donor) => {
      const balance = await expectCall<{ balanceMinor: number; heldMinor: number }>(
        200,
        stack.urls.bank,
        "POST",
        "/bank/check-balance",
        { accountId: donor.accountId },
      );
      expect({ donor: donor.label, balance: balance.balanceMinor, held: balance.heldMinor }).toEqual({
        donor: donor.label,
        balance: DEMO_BALANCE - (chargedBy.get(donor.accountId) ?? 0),
        held: 0,
      });
    });

    // The bank's ledger balances: the sum of every entry is 0.
    const bankMetrics = await call<string>(stack.urls.bank, "GET", "/metrics");
    expect(gauge(bankMetrics.text, "careforall_bank_ledger_imbalance_minor")).toBe(0);

    const faultsFired = [
      ...bankMetrics.text.matchAll(/^careforall_bank_faults_injected_total\{[^}]*kind="(\w+)"[^}]*\} (\d+)/gm),
    ]
      .map((m) => `${m[1]}=${m[2]}`)
      .join(" ");
    const retries = Object.values(retryCounts).reduce((s, n) => s + n, 0);
    console.log(
      [
        "chaos summary:",
        `  pledges accepted ${accepted.length}: captured ${captured.length}, failed ${failed.length}, cancelled ${cancelled.length} (${capturedThenCancelled.length} captured first, then refunded), refunded ${refunded.length}; rejected ${rejected.length}`,
        `  cancels ${cancels[200]} accepted, ${cancels[409]} too late; admin refunds ${refunds.requested}`,
        `  client retries ${retries} (network ${retryCounts.network}, 5xx ${retryCounts.server}, 409 in flight ${retryCounts.inFlight}, 404 campaign not yet known ${retryCounts.unknownCampaign})`,
        `  kills ${kills.length}: ${kills.map((k) => `${k.service}@${(k.at / 1000).toFixed(1)}s(${k.downMs}ms down)`).join(" ")}`,
        `  bank faults fired (since the bank's start): ${faultsFired}`,
        `  load ${(loadMs / 1000).toFixed(1)}s, convergence ${(convergeMs / 1000).toFixed(1)}s, elapsed ${((Date.now() - started) / 1000).toFixed(1)}s`,
      ].join("\n"),
    );
  });
}, 300_000);
