// Creating a pledge, as two named phases (rocket-rides-atomic): (1) the bank grant for the source
// — outside any transaction, and cached, so a returning donor skips it —, (2) ONE statement
// (`pledge.accept_pledge`) that re-checks the campaign, claims the Idempotency-Key and writes the
// pledge, its history, its pledge.created event and the key's stored answer (invariants 1 and 5).
// Everything the statement needs is decided before it, so no connection waits on JavaScript.
import type { Clock } from "@careforall/config";
import { PledgeCreated } from "@careforall/events";
import {
  type AppError,
  badRequest,
  conflict,
  isUuid,
  notFound,
  type Principal,
  paymentRequired,
  serviceUnavailable,
  unauthorized,
  unprocessable,
} from "@careforall/http";
import type { Logger } from "@careforall/log";
import { newEvent } from "@careforall/outbox";
import { injectTraceHeaders } from "@careforall/telemetry";
import type { HeldGrant, SourceVerifier } from "./bank-client";
import {
  type CampaignVerdict,
  campaignAccepts,
  campaignRefusal,
  canonicalRequest,
  donorIdentity,
  hashReceiptToken,
  headerText,
  newReceiptToken,
  normaliseEmail,
  requestHash,
  sealReceiptToken,
} from "./domain";
import type { CreatePledgeResult, KeyClaim, KeyStore } from "./idempotency-store";
import type { PledgeModel } from "./model";

export interface CreatePledgeCommand {
  campaignId: string;
  idempotencyKey: string;
  body: PledgeModel.CreatePledgeBody;
  /** The signed-in donor, or null for a guest. */
  viewer: Principal | null;
  /** The signed-in donor's own bank account, as the gateway knows it from auth. */
  donorBankAccount?: string | undefined;
  donorName?: string | undefined;
}

export interface CreatePledgeDeps {
  keys: KeyStore;
  verifier: SourceVerifier;
  clock: Clock;
  log: Logger;
  /** Called after a transaction that wrote outbox events has committed (main: relay.kick()). */
  onCommitted?: (() => void) | undefined;
  /** DONOR_KEY_SECRET: keys guests' donor keys (guestDonorKey). */
  donorKeySecret: string;
}

function verdictProblem(verdict: Exclude<CampaignVerdict, { ok: true }>): AppError {
  if (verdict.reason === "closed") return conflict(verdict.detail, "campaign-closed");
  if (verdict.reason === "ended") return conflict(verdict.detail, "campaign-ended");
  if (verdict.reason === "currency") return unprocessable(verdict.detail, "currency-mismatch");
  return notFound(verdict.detail);
}

/** Who pays and from which account; everything a 400 can be about, decided before anything is stored. */
export function planCreate(cmd: CreatePledgeCommand, donorKeySecret: string) {
  const { body, viewer } = cmd;
  if (viewer) {
    // donor_id is a uuid column; auth only issues UUIDv7 subjects, anything else is not one of ours.
    if (!isUuid(viewer.id)) throw unauthorized("The access token's subject is not a user id");
    const source = body.source
      ? { accountId: body.source.bankAccountId, accountSecret: body.source.accountSecret }
      : cmd.donorBankAccount
        ? { accountId: cmd.donorBankAccount, ownerUserId: viewer.id }
        : null;
    if (!source)
      throw badRequest("You have no bank account linked yet; name one in source", [
        { path: "source", message: "Required while your own bank account is not linked" },
      ]);
    const name = headerText(cmd.donorName) || viewer.name.trim() || null;
    return {
      identity: donorIdentity({ userId: viewer.id }, donorKeySecret),
      donorId: viewer.id as string | null,
      donorName: name,
      guestEmail: null as string | null,
      source,
    };
  }
  const missing = [
    ...(body.donor ? [] : [{ path: "donor", message: "Required for guests: { email, name }" }]),
    ...(body.source ? [] : [{ path: "source", message: "Required for guests: { bankAccountId, accountSecret }" }]),
  ];
  if (!body.donor || !body.source) throw badRequest("Guests must send donor and source", missing);
  return {
    identity: donorIdentity({ guestEmail: body.donor.email }, donorKeySecret),
    donorId: null as string | null,
    donorName: body.donor.name.trim() || null,
    guestEmail: normaliseEmail(body.donor.email) as string | null,
    source: { accountId: body.source.bankAccountId, accountSecret: body.source.accountSecret },
  };
}

/**
 * What the accept statement is told about the source: its grant, or that it may not pay — because
 * the bank refused it, or because its account holds another currency than the pledge (refused
 * before the 202, so a pledge never fails later for `currency_mismatch`).
 */
interface SourceVerdict {
  grant: string;
  refused: boolean;
  /** Set when refused for its currency: the account's. */
  accountCurrency?: string;
}

function sourceVerdict(held: HeldGrant, pledgeCurrency: string): SourceVerdict {
  if (held.currency && held.currency !== pledgeCurrency)
    return { grant: "", refused: true, accountCurrency: held.currency };
  return { grant: held.grant, refused: false };
}

export function createPledgeCreator({ keys, verifier, clock, log, onCommitted, donorKeySecret }: CreatePledgeDeps) {
  async function create(cmd: CreatePledgeCommand): Promise<CreatePledgeResult> {
    const plan = planCreate(cmd, donorKeySecret);
    const canonical = canonicalRequest(cmd.campaignId, cmd.body);
    const claim: KeyClaim = {
      scope: plan.identity.scope,
      key: cmd.idempotencyKey,
      hash: requestHash(canonical),
      sealMaterial: `${plan.identity.scope}\n${cmd.idempotencyKey}\n${canonical}`,
    };

    // A grant in hand (the common case: a returning source) needs no bank call and no claim.
    const cached = verifier.peek?.(plan.source);
    if (cached !== undefined) return accept(cmd, plan, claim, sourceVerdict(cached, cmd.body.currency), null);

    // Otherwise the key is claimed first, so the bank is asked at most once per key and never
    // for a closed or unknown campaign; the claim is finished by the accept statement.
    const claimed = await keys.claim(claim, cmd.campaignId);
    if (claimed.kind === "existing") return keys.answer(claimed.existing, claim);
    const { lockId } = claimed;
    try {
      const verdict = campaignAccepts(claimed.campaign, cmd.body.currency, clock.date());
      if (!verdict.ok) {
        // Unknown: nothing is stored (the catch below frees the key), as the read model may lag.
        if (verdict.reason === "unknown") throw notFound(`Campaign ${cmd.campaignId} does not exist`);
        return await keys.storeRejection(claim, verdictProblem(verdict), lockId);
      }
      // Phase 1: the bank, never inside a transaction.
      const outcome = await verifier.grant(plan.source);
      if (outcome.kind === "unavailable")
        throw serviceUnavailable("The bank did not answer; retry with the same Idempotency-Key");
      const granted: SourceVerdict =
        outcome.kind === "granted" ? sourceVerdict(outcome, cmd.body.currency) : { grant: "", refused: true };
      return await accept(cmd, plan, claim, granted, lockId);
    } catch (err) {
      // Nothing committed for this key (or it is already done): free it so the client may retry.
      // The delete only matches our own in-flight row, so a committed answer is never lost.
      await keys.release(claim, lockId).catch((e) => log.error({ err: e }, "idempotency.release_failed"));
      throw err;
    }
  }

  /** Phase 2: one statement; then the answer for whatever the statement found. */
  async function accept(
    cmd: CreatePledgeCommand,
    plan: ReturnType<typeof planCreate>,
    claim: KeyClaim,
    source: SourceVerdict,
    lockId: string | null,
  ): Promise<CreatePledgeResult> {
    // The receipt token is minted here and only its hash is stored, with a sealed copy that only
    // this exact request can reopen on a replay.
    const now = clock.date();
    const at = now.toISOString();
    const id = Bun.randomUUIDv7();
    const receiptToken = plan.donorId === null ? newReceiptToken() : null;
    const { body } = cmd;
    const pledge: PledgeModel.Pledge = {
      id,
      campaignId: cmd.campaignId,
      donorId: plan.donorId,
      amountMinor: body.amountMinor,
      currency: body.currency,
      status: "pending",
      anonymous: body.anonymous ?? false,
      message: body.message ?? null,
      failureReason: null,
      createdAt: at,
      updatedAt: at,
      history: [{ status: "pending", at }],
    };
    const event = newEvent(
      PledgeCreated.type,
      id,
      {
        pledgeId: id,
        campaignId: cmd.campaignId,
        donorId: plan.donorId,
        amountMinor: body.amountMinor,
        currency: body.currency,
        source: { bankAccountId: plan.source.accountId, grant: source.grant },
        createdAt: at,
      } satisfies PledgeCreated,
      clock,
    );
    const result = await keys.accept(
      claim,
      {
        now,
        refused: source.refused,
        pledge: {
          id,
          campaignId: cmd.campaignId,
          donorId: plan.donorId,
          donorKey: plan.identity.donorKey,
          donorName: plan.donorName,
          guestEmail: plan.guestEmail,
          amountMinor: body.amountMinor,
          currency: body.currency,
          anonymous: pledge.anonymous,
          message: pledge.message,
          sourceAccountId: plan.source.accountId,
          receiptTokenHash: receiptToken ? hashReceiptToken(receiptToken) : null,
        },
        sealedReceiptToken: receiptToken ? sealReceiptToken(receiptToken, claim.sealMaterial) : null,
        responseJson: JSON.stringify(pledge),
        event: { id: event.id, json: JSON.stringify(event), headersJson: JSON.stringify(injectTraceHeaders()) },
      },
      lockId,
    );

    switch (result.outcome) {
      case "created":
        onCommitted?.();
        log.debug({ pledgeId: id, campaignId: cmd.campaignId }, "pledge.created");
        return { body: receiptToken ? { ...pledge, receiptToken } : pledge, replayed: false };
      case "existing":
        return keys.answer(result.existing, claim);
      case "unknown":
        // The read model follows campaign events within milliseconds; a miss may be that lag, so
        // nothing is stored: the same request may succeed a moment later with the same key.
        throw notFound(`Campaign ${cmd.campaignId} does not exist`);
      case "closed":
      case "ended":
      case "currency":
        return keys.storeRejection(
          claim,
          verdictProblem(campaignRefusal(result.outcome, result.campaignCurrency, body.currency)),
          lockId,
        );
      case "refused":
        return keys.storeRejection(
          claim,
          source.accountCurrency
            ? unprocessable(
                `The source account holds ${source.accountCurrency}; this pledge is in ${body.currency}. ` +
                  `Pay from an account in ${body.currency} (POST /api/bank/demo-accounts opens one in any currency).`,
                "source-currency-mismatch",
              )
            : paymentRequired("The bank refused this source: wrong account secret, unknown account or not yours"),
          lockId,
        );
    }
  }

  return create;
}
