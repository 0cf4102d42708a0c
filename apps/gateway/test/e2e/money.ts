// Helpers for the money-path suites (pledges, webhooks, admin, limits): the stack environment
// they share, pledges through the gateway, polling a pledge to a status, balances, the payment
// behind a pledge (read from the payment service directly) and signed bank webhooks.
import { expect } from "bun:test";
import { signWebhook } from "@careforall/bank";
import type { PaymentModel } from "@careforall/payment";
import type { PledgeModel } from "@careforall/pledge";
import { waitFor } from "@careforall/testkit";
import {
  type Account,
  ADMIN,
  type CallOptions,
  call,
  type E2E,
  login,
  type Reply,
  register,
  uniqueEmail,
} from "./support";

export type Pledge = PledgeModel.Pledge;
export type CreatedPledge = PledgeModel.CreatedPledge;
export type Payment = PaymentModel.Payment;
export type PledgeStatus = Pledge["status"];
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The bank and the payment service share it; the suites sign their own webhooks with it. */
export const WEBHOOK_SECRET = `e2e-webhook-secret-${Bun.randomUUIDv7()}`;

/** Every limit off (a suite that checks one turns it back on), quiet logs, a webhook secret we know. */
export function moneyEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: "warn",
    RATE_LIMIT_AUTH: "0",
    RATE_LIMIT_PLEDGES: "0",
    RATE_LIMIT_DEMO_ACCOUNTS: "0",
    RATE_LIMIT_TEST_ACCOUNT_PLEDGES: "0",
    WEBHOOK_SECRET,
    ...extra,
  };
}

export const TEST_SECRET = "test";
export const SLOW = { bankAccountId: "acct_test_slow", accountSecret: TEST_SECRET };
export const DECLINED = { bankAccountId: "acct_test_declined", accountSecret: TEST_SECRET };
export const INSUFFICIENT = { bankAccountId: "acct_test_insufficient", accountSecret: TEST_SECRET };

export const FINAL: PledgeStatus[] = ["captured", "failed", "cancelled", "expired", "refunded"];

let keys = 0;
/** A fresh Idempotency-Key. */
export const idemKey = (label = "k") => `${label}-${++keys}-${Bun.randomUUIDv7()}`;

export interface PledgeInput {
  amountMinor: number | string;
  currency: string;
  anonymous?: boolean;
  message?: string;
  source?: { bankAccountId: string; accountSecret: string };
  donor?: { email: string; name: string };
}

export interface PledgeCall {
  token?: string | undefined;
  /** The Idempotency-Key; null sends none. */
  key?: string | null;
  headers?: Record<string, string>;
}

/** POST /api/campaigns/:id/pledges through the gateway. */
export function pledge(
  gw: string,
  campaignId: string,
  body: PledgeInput | Record<string, unknown>,
  options: PledgeCall = {},
): Promise<Reply<CreatedPledge>> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? idemKey() : options.key;
  if (key !== null) headers["idempotency-key"] = key;
  const opts: CallOptions = { headers, ...(options.token ? { token: options.token } : {}) };
  return call<CreatedPledge>(gw, "POST", `/api/campaigns/${campaignId}/pledges`, body, opts);
}

/** A pledge that must be accepted (202); returns its body. */
export async function accepted(
  gw: string,
  campaignId: string,
  body: PledgeInput,
  options: PledgeCall = {},
): Promise<CreatedPledge> {
  const reply = await pledge(gw, campaignId, body, options);
  if (reply.status !== 202) throw new Error(`pledge not accepted: ${reply.status} ${reply.text}`);
  return reply.body;
}

export interface Reader {
  token?: string | undefined;
  receiptToken?: string | undefined;
}

export function readPledge(gw: string, id: string, who: Reader = {}): Promise<Reply<Pledge>> {
  const headers: Record<string, string> = who.receiptToken ? { "x-receipt-token": who.receiptToken } : {};
  return call<Pledge>(gw, "GET", `/api/pledges/${id}`, undefined, {
    headers,
    ...(who.token ? { token: who.token } : {}),
  });
}

/** Polls GET /api/pledges/:id until its status is one of `statuses`. */
export function waitForStatus(
  gw: string,
  id: string,
  statuses: PledgeStatus | PledgeStatus[],
  who: Reader,
  timeoutMs = 15_000,
): Promise<Pledge> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  let last = "";
  return waitFor(
    async () => {
      const reply = await readPledge(gw, id, who);
      last = `${reply.status} ${reply.body?.status ?? reply.text}`;
      return reply.status === 200 && wanted.includes(reply.body.status) ? reply.body : null;
    },
    { timeoutMs, intervalMs: 50, what: `pledge ${id} to be ${wanted.join("|")}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: ${last})`);
  });
}

export const statuses = (p: Pledge) => p.history.map((h) => h.status);

export interface MyBank {
  bankAccountId: string;
  balanceMinor: number;
  availableMinor: number;
  heldMinor: number;
  currency: string;
}

export async function myBank(gw: string, token: string): Promise<MyBank> {
  const reply = await call<MyBank>(gw, "GET", "/api/me/bank", undefined, { token });
  if (reply.status !== 200) throw new Error(`GET /api/me/bank: ${reply.status} ${reply.text}`);
  return reply.body;
}

/** The bank opens a user's account asynchronously after registration: wait until it is there. */
export function waitForBank(gw: string, token: string): Promise<MyBank> {
  return waitFor(
    async () => {
      const reply = await call<MyBank>(gw, "GET", "/api/me/bank", undefined, { token });
      return reply.status === 200 ? reply.body : null;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: "the donor's bank account" },
  );
}

/** A registered donor whose bank account is open. */
export async function donor(gw: string, name: string): Promise<Account & { bank: MyBank }> {
  const account = await register(gw, { name });
  const bank = await waitForBank(gw, account.token);
  return { ...account, bank };
}

export async function adminToken(gw: string): Promise<string> {
  return (await login(gw, ADMIN.email, ADMIN.password)).accessToken;
}

/**
 * The pledge service learns campaigns from campaign events. Probes with a guest request in a
 * currency the campaign does not collect (nothing is charged: it is refused before the bank) until
 * the answer is `expected`: 422 once an active campaign is known, 409 once a closed one is.
 */
export function waitForPledgeView(
  gw: string,
  campaignId: string,
  wrongCurrency: string,
  expected: 409 | 422,
  /** Extra headers per probe (e.g. a fresh X-Forwarded-For where limits are on). */
  headers: () => Record<string, string> = () => ({}),
) {
  return waitFor(
    async () => {
      const reply = await pledge(
        gw,
        campaignId,
        {
          amountMinor: 100,
          currency: wrongCurrency,
          donor: { email: uniqueEmail("probe"), name: "Probe" },
          source: DECLINED,
        },
        { headers: headers() },
      );
      return reply.status === expected;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `campaign ${campaignId} to answer ${expected} in the pledge service` },
  );
}

/** The bank's view of any account, asked directly (internal API), e.g. a shared test account. */
export async function bankBalance(e2e: E2E, accountId: string): Promise<MyBank> {
  const reply = await call<MyBank>(e2e.stack.urls.bank, "POST", "/bank/check-balance", { accountId });
  if (reply.status !== 200) throw new Error(`check-balance ${accountId}: ${reply.status} ${reply.text}`);
  return reply.body;
}

/** The payment behind a pledge, read from the payment service directly (internal API). */
export async function paymentOf(e2e: E2E, pledgeId: string): Promise<Reply<Payment>> {
  return call<Payment>(e2e.stack.urls.payment, "GET", `/payments/by-pledge/${pledgeId}`);
}

export const PAYMENT_FINAL: Payment["status"][] = ["captured", "refunded", "failed", "released", "expired"];

/** Waits until the payment of a pledge exists and is in one of `wanted`. */
export function waitForPayment(e2e: E2E, pledgeId: string, wanted: Payment["status"][], timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const reply = await paymentOf(e2e, pledgeId);
      return reply.status === 200 && wanted.includes(reply.body.status) ? reply.body : null;
    },
    { timeoutMs, intervalMs: 50, what: `the payment of pledge ${pledgeId} to be ${wanted.join("|")}` },
  );
}

/** Every pledge (admin list, all pages), optionally of one status. */
export async function allPledges(gw: string, token: string, status?: PledgeStatus): Promise<Pledge[]> {
  const out: Pledge[] = [];
  let cursor: string | null = null;
  do {
    const qs = new URLSearchParams({ limit: "100" });
    if (status) qs.set("status", status);
    if (cursor) qs.set("cursor", cursor);
    const reply: Reply<Page<Pledge>> = await call<Page<Pledge>>(gw, "GET", `/api/admin/pledges?${qs}`, undefined, {
      token,
    });
    expect(reply.status).toBe(200);
    out.push(...reply.body.items);
    cursor = reply.body.nextCursor;
  } while (cursor);
  return out;
}

/** Waits until no pledge is pending or authorized any more. */
export function waitSettled(gw: string, token: string, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const open = [...(await allPledges(gw, token, "pending")), ...(await allPledges(gw, token, "authorized"))];
      return open.length === 0;
    },
    { timeoutMs, intervalMs: 100, what: "every pledge to reach a final state" },
  );
}

export interface Audit {
  campaigns: Array<{
    campaignId: string;
    raisedMinor: number;
    capturedMinusRefundedMinor: number;
    bankBalanceMinor: number;
    driftMinor: number;
  }>;
  totalDriftMinor: number;
  stuckPledges: number;
  checkedAt: string;
}

export async function audit(gw: string, token: string): Promise<Audit> {
  const reply = await call<Audit>(gw, "GET", "/api/admin/audit", undefined, { token });
  if (reply.status !== 200) throw new Error(`audit: ${reply.status} ${reply.text}`);
  return reply.body;
}

/** Waits for a clean audit: no drift anywhere and nothing stuck. */
export function waitCleanAudit(gw: string, token: string, timeoutMs = 15_000): Promise<Audit> {
  let last: Audit | undefined;
  return waitFor(
    async () => {
      last = await audit(gw, token);
      const clean =
        last.totalDriftMinor === 0 && last.stuckPledges === 0 && last.campaigns.every((c) => c.driftMinor === 0);
      return clean ? last : null;
    },
    { timeoutMs, intervalMs: 200, what: "a clean money audit" },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last audit: ${JSON.stringify(last)}`);
  });
}

export interface CampaignTotals {
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
}

export async function totals(gw: string, campaignId: string): Promise<CampaignTotals> {
  const reply = await call<CampaignTotals>(gw, "GET", `/api/campaigns/${campaignId}`);
  if (reply.status !== 200) throw new Error(`campaign ${campaignId}: ${reply.status} ${reply.text}`);
  const { raisedMinor, donorCount, pledgeCount } = reply.body;
  return { raisedMinor, donorCount, pledgeCount };
}

/** Waits until the (cached, event-refreshed) campaign read shows exactly `expected`. */
export function waitForTotals(gw: string, campaignId: string, expected: Partial<CampaignTotals>, timeoutMs = 15_000) {
  let last: CampaignTotals | undefined;
  return waitFor(
    async () => {
      last = await totals(gw, campaignId);
      return Object.entries(expected).every(([k, v]) => last?.[k as keyof CampaignTotals] === v) ? last : null;
    },
    { timeoutMs, intervalMs: 50, what: `campaign ${campaignId} totals ${JSON.stringify(expected)}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
}

// ── webhooks ──────────────────────────────────────────────────────────────────────────────

export type WebhookType = "hold.authorized" | "hold.captured" | "hold.released" | "hold.expired" | "hold.failed";

export interface WebhookEvent {
  id: string;
  type: WebhookType;
  createdAt: string;
  data: {
    holdId: string | null;
    paymentRef: string;
    amountMinor: number;
    currency: string;
    status?: string | null;
    reason?: string | null;
  };
}

export function webhookEvent(type: WebhookType, data: WebhookEvent["data"]): WebhookEvent {
  return { id: Bun.randomUUIDv7(), type, createdAt: new Date().toISOString(), data };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The Bank-Signature header for exactly `raw`, signed with the stack's secret (or another). */
export const sign = (raw: string, t = nowSeconds(), secret = WEBHOOK_SECRET) => signWebhook(secret, raw, t);

/** POST /api/webhooks/bank with the given raw body and (optional) Bank-Signature. */
export function postWebhook(gw: string, raw: string, signature?: string): Promise<Reply<{ applied: boolean }>> {
  return call<{ applied: boolean }>(gw, "POST", "/api/webhooks/bank", undefined, {
    raw,
    headers: {
      "content-type": "application/json",
      ...(signature !== undefined ? { "bank-signature": signature } : {}),
    },
  });
}

/** A metric's value from a Prometheus text page (first sample whose name and labels match). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}
