// The narrow seam between payment and the bank (docs/money-path.md "Bank internal API"). Every
// call answers one of three outcomes, and the service treats them very differently:
//   ok       — the bank did it (or replayed what it did for this idempotency key);
//   rejected — a definite 4xx answer: the bank refused and changed nothing;
//   unknown  — timeout, 5xx or a dropped connection: the bank may or may not have done it, so
//              retry with the same idempotency key or ask the bank (the reconciler does).
import type { BankApp } from "@careforall/bank";
import { treaty } from "@elysiajs/eden";

export type Currency = "BDT" | "USD" | "EUR";

export type AuthorizeFailureReason =
  | "declined"
  | "insufficient_funds"
  | "invalid_grant"
  | "currency_mismatch"
  | "unknown_campaign";

export interface AuthorizeRequest {
  idempotencyKey: string;
  accountId: string;
  grant: string;
  amountMinor: number;
  currency: Currency;
  campaignId: string;
  paymentRef: string;
}

export interface AuthorizeResult {
  holdId: string | null;
  status: "held" | "failed";
  reason: AuthorizeFailureReason | null;
  amountMinor: number;
  currency: Currency;
  expiresAt: string | null;
}

export type HoldStatus = "held" | "captured" | "released" | "expired";

export interface Hold {
  id: string;
  accountId: string;
  campaignId: string;
  amountMinor: number;
  currency: Currency;
  status: HoldStatus;
  capturedMinor: number;
  refundedMinor: number;
  paymentRef: string;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface CaptureRequest {
  idempotencyKey: string;
  holdId: string;
  amountMinor?: number;
}
export interface CaptureResult {
  holdId: string;
  transferId: string;
  capturedMinor: number;
  status: "captured";
}

export interface ReleaseRequest {
  idempotencyKey: string;
  holdId: string;
}
export interface ReleaseResult {
  holdId: string;
  status: "released";
}

export interface RefundRequest {
  idempotencyKey: string;
  holdId: string;
  amountMinor?: number;
}
export interface RefundResult {
  holdId: string;
  transferId: string;
  refundedMinor: number;
}

export interface BankProblem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [extension: string]: unknown;
}

export type BankOutcome<T> =
  | { kind: "ok"; value: T }
  | { kind: "rejected"; status: number; problem: BankProblem }
  | { kind: "unknown"; error: string };

export interface BankClient {
  authorize(req: AuthorizeRequest): Promise<BankOutcome<AuthorizeResult>>;
  /** The stored authorize result for an idempotency key; rejected 404 when the bank never saw it. */
  holdByKey(key: string): Promise<BankOutcome<AuthorizeResult>>;
  hold(id: string): Promise<BankOutcome<Hold>>;
  capture(req: CaptureRequest): Promise<BankOutcome<CaptureResult>>;
  release(req: ReleaseRequest): Promise<BankOutcome<ReleaseResult>>;
  refund(req: RefundRequest): Promise<BankOutcome<RefundResult>>;
  /** Many authorizations in one call: one outcome per item, in item order (absent: one call each). */
  authorizeBatch?(items: AuthorizeRequest[]): Promise<BankOutcome<AuthorizeResult>[]>;
  /** Many captures in one call: one outcome per item, in item order (absent: one call each). */
  captureBatch?(items: CaptureRequest[]): Promise<BankOutcome<CaptureResult>[]>;
}

// ── Eden adapter ────────────────────────────────────────────────────────────────────────────

export type BankTreaty = ReturnType<typeof treaty<BankApp>>;

/** The part of an Eden Treaty answer we read (`response` is absent when no answer came back). */
interface EdenResult {
  data: unknown;
  error: unknown;
  status: number;
  response?: Response | undefined;
}

function asProblem(value: unknown, status: number): BankProblem {
  let body = value;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {}
  }
  return body && typeof body === "object" ? (body as BankProblem) : { status, detail: String(value ?? "") };
}

/** Maps one Eden call to an outcome; a thrown error, a missing response, a 5xx or a 408/429 are "unknown". */
async function outcome<R extends EdenResult>(call: () => Promise<R>): Promise<BankOutcome<NonNullable<R["data"]>>> {
  let result: R;
  try {
    result = await call();
  } catch (err) {
    return { kind: "unknown", error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  if (!result.error) {
    if (result.status >= 200 && result.status < 300 && result.data !== null && result.data !== undefined)
      return { kind: "ok", value: result.data as NonNullable<R["data"]> };
    return { kind: "unknown", error: `unexpected answer ${result.status}` };
  }
  const error = result.error as { status?: unknown; value?: unknown };
  const status = typeof error.status === "number" ? error.status : result.status;
  if (!result.response) {
    const value = error.value;
    return { kind: "unknown", error: value instanceof Error ? value.message : `no response (${status})` };
  }
  // 408 and 429 say "not now", not "no": the bank did nothing and the call may be repeated.
  if (status >= 500 || status === 408 || status === 429 || status < 400)
    return { kind: "unknown", error: `bank answered ${status}` };
  return { kind: "rejected", status, problem: asProblem(error.value, status) };
}

/** The real client: Eden Treaty over the bank's routes (`treaty<BankApp>`). */
export function createEdenBankClient(client: BankTreaty): BankClient {
  const bank = client.bank;
  return {
    authorize: (req) => outcome(() => bank.authorize.post(req)),
    holdByKey: (key) => outcome(() => bank.holds["by-key"]({ key }).get()),
    hold: (id) => outcome(() => bank.holds({ id }).get()),
    capture: (req) => outcome(() => bank.capture.post(req)),
    release: (req) => outcome(() => bank.release.post(req)),
    refund: (req) => outcome(() => bank.refund.post(req)),
  };
}

/** Treaty over the network: dates stay strings, and every call gives up after `timeoutMs` (an unknown outcome). */
export function createBankClient({ url, timeoutMs }: { url: string; timeoutMs: number }): BankClient {
  const fetcher = ((input: RequestInfo | URL, init?: RequestInit) =>
    fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) })) as typeof fetch;
  return createEdenBankClient(treaty<BankApp>(url, { parseDate: false, fetcher }));
}
