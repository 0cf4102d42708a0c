// The pledge service's only seam to the bank: verify a pledge's source account and get a grant
// (POST /bank/grants). Three outcomes, no exceptions: granted, refused (402 to the donor, no
// charge) and unavailable (timeout, 5xx, dropped connection: 503, the client retries the key).
import { readOutcome } from "@careforall/http";
import type { Logger } from "@careforall/log";

export interface GrantInput {
  accountId: string;
  /** Paying from an account by its secret (guests, or a signed-in donor naming another account). */
  accountSecret?: string;
  /** Paying from the signed-in user's own account: the bank checks that this user owns it. */
  ownerUserId?: string;
}

export type GrantOutcome =
  | { kind: "granted"; grant: string; expiresAt?: string; currency?: string }
  | { kind: "refused" }
  | { kind: "unavailable" };

export interface SourceVerifier {
  grant(input: GrantInput): Promise<GrantOutcome>;
  /** A grant already in hand for this input (the cache), without asking the bank; else undefined. */
  peek?(input: GrantInput): HeldGrant | undefined;
}

/** A grant, and the currency of the account it draws on (when the bank said). */
export interface HeldGrant {
  grant: string;
  currency?: string;
}

interface EdenError {
  status: number;
  value: unknown;
}

/**
 * The part of `treaty<BankApp>(url)` this adapter uses, written structurally so the seam does
 * not depend on the bank's whole route tree.
 */
export interface BankGrantsClient {
  bank: {
    grants: {
      post(body: { accountId: string; accountSecret?: string; ownerUserId?: string }): Promise<{
        data: { grant: string; expiresAt: string; currency?: string } | null;
        error: EdenError | null;
        status: number;
        response?: Response | undefined;
      }>;
    };
  };
}

/** HTTP answers that mean "this source may not pay": wrong secret, unknown account, not the owner. */
const REFUSING_STATUSES = new Set([400, 402, 403, 404, 422]);

/**
 * Adapts an Eden Treaty client of the bank. main.ts builds it with
 * `treaty<BankApp>(BANK_URL, { parseDate: false, fetcher: fetchWithTimeout(BANK_TIMEOUT_MS) })`.
 */
export function createEdenSourceVerifier(client: BankGrantsClient, log?: Logger): SourceVerifier {
  return {
    async grant(input) {
      const body: { accountId: string; accountSecret?: string; ownerUserId?: string } = { accountId: input.accountId };
      if (input.accountSecret !== undefined) body.accountSecret = input.accountSecret;
      if (input.ownerUserId !== undefined) body.ownerUserId = input.ownerUserId;
      const outcome = await readOutcome(() => client.bank.grants.post(body));
      if (outcome.kind === "ok" && outcome.data && typeof outcome.data.grant === "string") {
        const { grant, expiresAt, currency } = outcome.data;
        return { kind: "granted", grant, expiresAt, ...(currency ? { currency } : {}) };
      }
      if (outcome.kind === "rejected" && REFUSING_STATUSES.has(outcome.status)) {
        if (outcome.status !== 402) log?.warn({ status: outcome.status }, "bank.grant_refused_unusually");
        return { kind: "refused" };
      }
      // Anything else (timeout, 5xx, dropped connection, another 4xx) is unavailable; a call that
      // threw has no status to log, only its error.
      if (outcome.kind === "unknown" && !outcome.response && outcome.status === undefined)
        log?.warn({ err: outcome.cause }, "bank.grant_unreachable");
      else log?.warn({ status: outcome.status }, "bank.grant_unavailable");
      return { kind: "unavailable" };
    },
  };
}

export interface GrantCacheOptions {
  /** How long a granted answer is reused; well inside the grant's own validity (24 h at the bank). */
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Remembers granted answers for a while, keyed by a hash of (account, secret or owner), so a
 * returning donor's pledge skips the bank round trip. Only grants are cached: a refusal or an
 * outage always asks again, and a different secret is a different key, so a wrong secret is
 * still checked by the bank (402).
 */
export function cachingSourceVerifier(inner: SourceVerifier, options: GrantCacheOptions): SourceVerifier {
  const { ttlMs, maxEntries = 50_000, now = Date.now } = options;
  const cache = new Map<string, { held: HeldGrant; until: number }>();
  const keyOf = (input: GrantInput) =>
    new Bun.CryptoHasher("sha256")
      .update(`${input.accountId}\u0000${input.accountSecret ?? ""}\u0000${input.ownerUserId ?? ""}`)
      .digest("hex");
  const lookup = (key: string): HeldGrant | undefined => {
    const hit = cache.get(key);
    return hit && hit.until > now() ? hit.held : undefined;
  };
  return {
    peek: (input) => (ttlMs <= 0 || cache.size === 0 ? undefined : lookup(keyOf(input))),
    async grant(input) {
      if (ttlMs <= 0) return inner.grant(input);
      const key = keyOf(input);
      const hit = lookup(key);
      if (hit) return { kind: "granted", ...hit };
      const outcome = await inner.grant(input);
      if (outcome.kind === "granted") {
        const expires = outcome.expiresAt ? Date.parse(outcome.expiresAt) : Number.POSITIVE_INFINITY;
        // Never hand out a grant in its last hour: payment may still be retrying with it.
        const until = Math.min(now() + ttlMs, expires - 60 * 60 * 1000);
        if (until > now()) {
          if (cache.size >= maxEntries) cache.clear();
          const held = outcome.currency
            ? { grant: outcome.grant, currency: outcome.currency }
            : { grant: outcome.grant };
          cache.set(key, { held, until });
        }
      }
      return outcome;
    },
  };
}
