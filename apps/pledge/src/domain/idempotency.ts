// Pure rules for Idempotency-Key handling: the canonical form of a request, whose hash tells
// "the same request again" from "another request under the same key", and what an existing key means.
import { normaliseEmail, sha256Hex } from "./donor";

export type Currency = "BDT" | "USD" | "EUR";

export interface CreatePledgeRequest {
  amountMinor: number;
  currency: Currency;
  anonymous?: boolean | undefined;
  message?: string | undefined;
  source?: { bankAccountId: string; accountSecret: string } | undefined;
  donor?: { email: string; name: string } | undefined;
}

/**
 * The request as meaning, not bytes: key order, an omitted `anonymous` vs `false` and the case of
 * the guest's email do not make a different request; every other field does (the account secret
 * included, so a retry with another secret is another request, 422).
 */
export function canonicalRequest(campaignId: string, body: CreatePledgeRequest): string {
  return JSON.stringify([
    "pledge.create/v1",
    campaignId.toLowerCase(),
    body.amountMinor,
    body.currency,
    body.anonymous ?? false,
    body.message ?? null,
    body.source ? [body.source.bankAccountId, body.source.accountSecret] : null,
    body.donor ? [normaliseEmail(body.donor.email), body.donor.name] : null,
  ]);
}

/** What the idempotency row stores to compare requests (SHA-256, domain-separated). */
export const requestHash = (canonical: string) => sha256Hex(`careforall/pledge/request-hash/v1\n${canonical}`);

/** What a finished key answers a new request with. */
export type KeyVerdict = "replay" | "in-flight" | "mismatch";

export function judgeExistingKey(existing: { requestHash: string; state: "in_flight" | "done" }, hash: string) {
  if (existing.requestHash !== hash) return "mismatch" satisfies KeyVerdict;
  return existing.state === "done" ? ("replay" satisfies KeyVerdict) : ("in-flight" satisfies KeyVerdict);
}
