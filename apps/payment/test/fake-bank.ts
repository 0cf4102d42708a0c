// An in-memory test double of the BankClient seam (not of the bank): idempotent by key like
// the real one, with scriptable outcomes per call — "unknown" (nothing done, no answer), "lost"
// (done, answer lost), a 4xx/5xx — and gates that hold a call open to stage races.
import type {
  AuthorizeRequest,
  AuthorizeResult,
  BankClient,
  BankOutcome,
  CaptureRequest,
  CaptureResult,
  Hold,
  RefundRequest,
  RefundResult,
  ReleaseRequest,
  ReleaseResult,
} from "../src/bank-client";

export type Operation = "authorize" | "holdByKey" | "hold" | "capture" | "release" | "refund";
export type Script = "ok" | "unknown" | "lost" | { status: number };

export const DECLINED_ACCOUNT = "acct_test_declined";
export const INSUFFICIENT_ACCOUNT = "acct_test_insufficient";

interface Gate {
  reached: Promise<void>;
  open(): void;
}

export class FakeBank implements BankClient {
  readonly holds = new Map<string, Hold>();
  readonly authorizeKeys = new Map<string, AuthorizeResult>();
  readonly captureKeys = new Map<string, CaptureResult>();
  readonly releaseKeys = new Map<string, ReleaseResult>();
  readonly refundKeys = new Map<string, RefundResult>();
  /** Every call received, in order. */
  readonly calls: Array<{ op: Operation; key: string }> = [];
  private readonly scripts = new Map<Operation, Script[]>();
  private readonly gates = new Map<
    Operation,
    Array<{ wait: Promise<void>; arrived: () => void; when: "before" | "after" }>
  >();
  private seq = 0;

  /** Forgets everything (between tests sharing one fake). */
  reset(): this {
    for (const map of [this.holds, this.authorizeKeys, this.captureKeys, this.releaseKeys, this.refundKeys])
      map.clear();
    this.calls.length = 0;
    this.scripts.clear();
    this.gates.clear();
    return this;
  }

  /** The next calls of `op` answer these outcomes, in order; later calls behave normally. */
  script(op: Operation, ...outcomes: Script[]): this {
    this.scripts.set(op, [...(this.scripts.get(op) ?? []), ...outcomes]);
    return this;
  }

  /**
   * Holds the next call of `op` open until `open()`: "before" it does anything, or "after" it
   * did the work but before the answer returns (a slow response).
   */
  gate(op: Operation, when: "before" | "after" = "before"): Gate {
    let open!: () => void;
    let arrived!: () => void;
    const wait = new Promise<void>((resolve) => {
      open = resolve;
    });
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    this.gates.set(op, [...(this.gates.get(op) ?? []), { wait, arrived, when }]);
    return { reached, open };
  }

  count(op: Operation): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  keysOf(op: Operation): string[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.key);
  }

  /** Captures, releases and refunds the bank actually performed (replays excluded). */
  performed() {
    return {
      holds: this.holds.size,
      captures: this.captureKeys.size,
      releases: this.releaseKeys.size,
      refunds: this.refundKeys.size,
    };
  }

  /** Changes a hold behind the service's back (expiry, another party). */
  setHoldStatus(id: string, status: Hold["status"]): void {
    const hold = this.holds.get(id);
    if (hold)
      this.holds.set(id, {
        ...hold,
        status,
        capturedMinor: status === "captured" ? hold.amountMinor : hold.capturedMinor,
      });
  }

  private async run<T>(op: Operation, key: string, work: () => BankOutcome<T>): Promise<BankOutcome<T>> {
    this.calls.push({ op, key });
    const gate = this.gates.get(op)?.shift();
    if (gate?.when === "before") {
      gate.arrived();
      await gate.wait;
    }
    await Promise.resolve();
    const script = this.scripts.get(op)?.shift() ?? "ok";
    if (script === "unknown") return { kind: "unknown", error: "timeout (scripted)" };
    if (typeof script === "object") {
      if (script.status >= 500) return { kind: "unknown", error: `bank answered ${script.status}` };
      return { kind: "rejected", status: script.status, problem: { status: script.status, title: "scripted" } };
    }
    const result = work();
    if (gate?.when === "after") {
      gate.arrived();
      await gate.wait;
    }
    if (script === "lost") return { kind: "unknown", error: "response lost (scripted)" };
    return result;
  }

  private conflict<T>(detail: string): BankOutcome<T> {
    return { kind: "rejected", status: 409, problem: { status: 409, title: "Conflict", detail } };
  }

  authorize(req: AuthorizeRequest): Promise<BankOutcome<AuthorizeResult>> {
    return this.run("authorize", req.idempotencyKey, () => {
      const stored = this.authorizeKeys.get(req.idempotencyKey);
      if (stored) return { kind: "ok", value: stored };
      const reason =
        req.accountId === DECLINED_ACCOUNT
          ? "declined"
          : req.accountId === INSUFFICIENT_ACCOUNT
            ? "insufficient_funds"
            : null;
      let result: AuthorizeResult;
      if (reason) {
        result = {
          holdId: null,
          status: "failed",
          reason,
          amountMinor: req.amountMinor,
          currency: req.currency,
          expiresAt: null,
        };
      } else {
        const id = `hold_${++this.seq}`;
        const at = new Date().toISOString();
        this.holds.set(id, {
          id,
          accountId: req.accountId,
          campaignId: req.campaignId,
          amountMinor: req.amountMinor,
          currency: req.currency,
          status: "held",
          capturedMinor: 0,
          refundedMinor: 0,
          paymentRef: req.paymentRef,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          createdAt: at,
          updatedAt: at,
        });
        result = {
          holdId: id,
          status: "held",
          reason: null,
          amountMinor: req.amountMinor,
          currency: req.currency,
          expiresAt: null,
        };
      }
      this.authorizeKeys.set(req.idempotencyKey, result);
      return { kind: "ok", value: result };
    });
  }

  holdByKey(key: string): Promise<BankOutcome<AuthorizeResult>> {
    return this.run("holdByKey", key, () => {
      const stored = this.authorizeKeys.get(key);
      return stored
        ? { kind: "ok", value: stored }
        : { kind: "rejected", status: 404, problem: { status: 404, title: "Not found" } };
    });
  }

  hold(id: string): Promise<BankOutcome<Hold>> {
    return this.run("hold", id, () => {
      const hold = this.holds.get(id);
      return hold
        ? { kind: "ok", value: { ...hold } }
        : { kind: "rejected", status: 404, problem: { status: 404, title: "Not found" } };
    });
  }

  capture(req: CaptureRequest): Promise<BankOutcome<CaptureResult>> {
    return this.run("capture", req.idempotencyKey, () => {
      const stored = this.captureKeys.get(req.idempotencyKey);
      if (stored) return { kind: "ok", value: stored };
      const hold = this.holds.get(req.holdId);
      if (!hold) return { kind: "rejected", status: 404, problem: { status: 404, title: "Not found" } };
      if (hold.status !== "held") return this.conflict(`hold is ${hold.status}`);
      this.holds.set(hold.id, { ...hold, status: "captured", capturedMinor: hold.amountMinor });
      const result: CaptureResult = {
        holdId: hold.id,
        transferId: `tr_capture_${++this.seq}`,
        capturedMinor: hold.amountMinor,
        status: "captured",
      };
      this.captureKeys.set(req.idempotencyKey, result);
      return { kind: "ok", value: result };
    });
  }

  release(req: ReleaseRequest): Promise<BankOutcome<ReleaseResult>> {
    return this.run("release", req.idempotencyKey, () => {
      const stored = this.releaseKeys.get(req.idempotencyKey);
      if (stored) return { kind: "ok", value: stored };
      const hold = this.holds.get(req.holdId);
      if (!hold) return { kind: "rejected", status: 404, problem: { status: 404, title: "Not found" } };
      if (hold.status !== "held") return this.conflict(`hold is ${hold.status}`);
      this.holds.set(hold.id, { ...hold, status: "released" });
      const result: ReleaseResult = { holdId: hold.id, status: "released" };
      this.releaseKeys.set(req.idempotencyKey, result);
      return { kind: "ok", value: result };
    });
  }

  refund(req: RefundRequest): Promise<BankOutcome<RefundResult>> {
    return this.run("refund", req.idempotencyKey, () => {
      const stored = this.refundKeys.get(req.idempotencyKey);
      if (stored) return { kind: "ok", value: stored };
      const hold = this.holds.get(req.holdId);
      if (!hold) return { kind: "rejected", status: 404, problem: { status: 404, title: "Not found" } };
      if (hold.status !== "captured" || hold.refundedMinor >= hold.capturedMinor)
        return this.conflict("not refundable");
      const amount = hold.capturedMinor - hold.refundedMinor;
      this.holds.set(hold.id, { ...hold, refundedMinor: hold.refundedMinor + amount });
      const result: RefundResult = { holdId: hold.id, transferId: `tr_refund_${++this.seq}`, refundedMinor: amount };
      this.refundKeys.set(req.idempotencyKey, result);
      return { kind: "ok", value: result };
    });
  }
}
