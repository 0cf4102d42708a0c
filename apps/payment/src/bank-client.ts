// The narrow seam between payment and the bank (docs/money-path.md "Bank internal API"). Every
// call answers one of three outcomes, and the service treats them very differently:
//   ok       — the bank did it (or replayed what it did for this idempotency key);
//   rejected — a definite 4xx answer: the bank refused and changed nothing;
//   unknown  — timeout, 5xx or a dropped connection: the bank may or may not have done it, so
//              retry with the same idempotency key or ask the bank (the reconciler does).
import type { BankApp, BankModel } from "@careforall/bank";
import {
  breakerFetch,
  type EdenAnswer,
  fetchWithTimeout,
  isUnknownStatus,
  readOutcome,
  type ServiceIdentity,
  serviceFetch,
} from "@careforall/http";
import type { Breaker } from "@careforall/resilience";
import { SpanKind, tracingEnabled, withSpan } from "@careforall/telemetry";
import { treaty } from "@elysiajs/eden";

// The bank's own models (one schema per shape, in @careforall/bank): never hand-copied here.
export type Currency = BankModel.AuthorizeBody["currency"];
export type AuthorizeFailureReason = BankModel.FailureReason;
export type AuthorizeRequest = BankModel.AuthorizeBody;
export type AuthorizeResult = BankModel.AuthorizeResult;
export type HoldStatus = BankModel.Hold["status"];
export type Hold = BankModel.Hold;
export type CaptureRequest = BankModel.CaptureBody;
export type CaptureResult = BankModel.CaptureResult;
export type ReleaseRequest = BankModel.ReleaseBody;
export type ReleaseResult = BankModel.ReleaseResult;
export type RefundRequest = BankModel.RefundBody;
export type RefundResult = BankModel.RefundResult;

/** Most items the bank takes in one batch call; longer lists are sent as several calls. */
export const BANK_BATCH_MAX = 100;

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
  /**
   * Many authorizations in few calls (POST /bank/authorize/batch, at most BANK_BATCH_MAX items
   * each): one outcome per item, in item order, each what `authorize` with that item would answer.
   * A call that fails as a whole (timeout, 5xx, lost response) makes every one of its items
   * unknown. Absent (a test double): one call each.
   */
  authorizeBatch?(items: AuthorizeRequest[]): Promise<BankOutcome<AuthorizeResult>[]>;
  /** Many captures in few calls (POST /bank/capture/batch), exactly like `authorizeBatch`. */
  captureBatch?(items: CaptureRequest[]): Promise<BankOutcome<CaptureResult>[]>;
}

// ── Eden adapter ────────────────────────────────────────────────────────────────────────────

export type BankTreaty = ReturnType<typeof treaty<BankApp>>;

/** The problem a rejection carries: the answer's body as it came, or a stand-in when it was not an object. */
function asProblem(body: unknown, status: number): BankProblem {
  return body && typeof body === "object" ? (body as BankProblem) : { status, detail: String(body ?? "") };
}

/**
 * One bank call as a span `bank.<operation>` (while spans are recorded) with its outcome, around
 * the CLIENT span of the HTTP call itself: what the payment asked and what it concluded.
 */
function traced<T extends BankOutcome<unknown> | BankOutcome<unknown>[]>(
  operation: string,
  items: number,
  call: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return call();
  return withSpan(
    `bank.${operation}`,
    { kind: SpanKind.INTERNAL, attributes: { "bank.operation": operation, "bank.items": items } },
    async (span) => {
      const result = await call();
      const kinds = (Array.isArray(result) ? result : [result]).map((r) => r.kind);
      span.setAttribute("bank.outcome", [...new Set(kinds)].join(","));
      return result;
    },
  );
}

/** Maps one Eden call to an outcome; a thrown error, a missing response, a 5xx or a 408/429 are "unknown". */
async function outcome<R extends EdenAnswer>(call: () => Promise<R>): Promise<BankOutcome<NonNullable<R["data"]>>> {
  const answer = await readOutcome(call);
  if (answer.kind === "ok") {
    if (answer.status >= 200 && answer.status < 300 && answer.data !== null && answer.data !== undefined)
      return { kind: "ok", value: answer.data as NonNullable<R["data"]> };
    return { kind: "unknown", error: `unexpected answer ${answer.status}` };
  }
  if (answer.kind === "rejected")
    return { kind: "rejected", status: answer.status, problem: asProblem(answer.body, answer.status) };
  if (answer.response) return { kind: "unknown", error: `bank answered ${answer.status}` };
  const { cause } = answer;
  if (answer.status === undefined)
    return { kind: "unknown", error: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause) };
  return { kind: "unknown", error: cause instanceof Error ? cause.message : `no response (${answer.status})` };
}

type BatchItem = BankModel.AuthorizeBatchItem | BankModel.CaptureBatchItem;
/** What a batch item answers when it succeeded: the single call's result. */
type ItemBody<I extends BatchItem> = Extract<I, { ok: true }>["body"];

/** One batch item's answer as an outcome, read exactly as the single call's answer would be. */
function itemOutcome<I extends BatchItem>(item: I): BankOutcome<ItemBody<I>> {
  if (item.ok) return { kind: "ok", value: item.body as ItemBody<I> };
  const { status } = item;
  if (isUnknownStatus(status)) return { kind: "unknown", error: `bank answered ${status} for this item` };
  return { kind: "rejected", status, problem: item.problem };
}

/**
 * Sends `reqs` in calls of at most BANK_BATCH_MAX items (concurrently) and answers one outcome per
 * request, in order. A whole call that fails unknowably makes its items unknown; one the bank
 * refused as a whole (a 4xx: nothing was done, e.g. one item failed validation, or a bank without
 * the batch route) is asked again item by item, so each item gets its own answer.
 */
async function batched<Req, I extends BatchItem>(
  reqs: Req[],
  call: (items: Req[]) => Promise<BankOutcome<{ results: I[] }>>,
  one: (req: Req) => Promise<BankOutcome<ItemBody<I>>>,
): Promise<BankOutcome<ItemBody<I>>[]> {
  const chunks: Req[][] = [];
  for (let i = 0; i < reqs.length; i += BANK_BATCH_MAX) chunks.push(reqs.slice(i, i + BANK_BATCH_MAX));
  const answers = await Promise.all(
    chunks.map(async (items): Promise<BankOutcome<ItemBody<I>>[]> => {
      const whole = await call(items);
      if (whole.kind === "unknown") return items.map(() => whole);
      if (whole.kind === "rejected") return Promise.all(items.map(one));
      const { results } = whole.value;
      if (results.length !== items.length)
        return items.map(() => ({
          kind: "unknown",
          error: `bank answered ${results.length} of ${items.length} items`,
        }));
      return results.map((r) => itemOutcome(r));
    }),
  );
  return answers.flat();
}

/** The real client: Eden Treaty over the bank's routes (`treaty<BankApp>`). */
export function createEdenBankClient(client: BankTreaty): BankClient {
  const bank = client.bank;
  /** One call for one item: its outcome, traced as `bank.<operation>`. */
  const one = <R extends EdenAnswer>(operation: string, call: () => Promise<R>) =>
    traced(operation, 1, () => outcome(call));
  const authorize = (req: AuthorizeRequest) => one("authorize", () => bank.authorize.post(req));
  const capture = (req: CaptureRequest) => one("capture", () => bank.capture.post(req));
  return {
    authorize,
    authorizeBatch: (reqs) =>
      traced("authorize_batch", reqs.length, () =>
        batched<AuthorizeRequest, BankModel.AuthorizeBatchItem>(
          reqs,
          (items) => outcome(() => bank.authorize.batch.post({ items })),
          authorize,
        ),
      ),
    holdByKey: (key) => one("hold_by_key", () => bank.holds["by-key"]({ key }).get()),
    hold: (id) => one("hold", () => bank.holds({ id }).get()),
    capture,
    captureBatch: (reqs) =>
      traced("capture_batch", reqs.length, () =>
        batched<CaptureRequest, BankModel.CaptureBatchItem>(
          reqs,
          (items) => outcome(() => bank.capture.batch.post({ items })),
          capture,
        ),
      ),
    release: (req) => one("release", () => bank.release.post(req)),
    refund: (req) => one("refund", () => bank.refund.post(req)),
  };
}

/** Treaty over the network: dates stay strings, and every call gives up after `timeoutMs` (an unknown outcome). */
export function createBankClient({
  url,
  timeoutMs,
  breaker,
  identity,
  fetch: base,
}: {
  url: string;
  /** What reaches the bank (default the network; in one process, the bank's app in-process). */
  fetch?: typeof fetch;
  timeoutMs: number;
  /** Payment's identity: every call carries its credential for the bank. */
  identity?: ServiceIdentity;
  /**
   * While open, calls fail at once (no request sent) as unknown outcomes: a bank that is down or
   * hung costs timeoutMs to the first few calls only, not to every batch and reconciler pass.
   */
  breaker?: Breaker;
}): BankClient {
  const timed = fetchWithTimeout(timeoutMs, base, "bank");
  const guarded = breaker ? breakerFetch(timed, breaker) : timed;
  return createEdenBankClient(
    treaty<BankApp>(url, { parseDate: false, fetcher: identity ? serviceFetch(identity, "bank", guarded) : guarded }),
  );
}
