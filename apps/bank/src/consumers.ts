// The bank's event consumers: user.registered opens the user's funded account, campaign.created
// opens (or adopts the lazily created) receiving account. Each records the event id in the inbox
// in the same transaction as its effect and emits bank.account_opened through the outbox, so a
// redelivered event changes nothing (invariant 5).
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import type { Clock } from "@careforall/config";
import {
  BankAccountOpened,
  CampaignCreated,
  type CampaignSnapshot,
  UserRegistered,
  type UserRegisteredEvent,
} from "@careforall/events";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent, recordInbox } from "@careforall/outbox";
import type { BankConfig } from "./config";
import { type AccountRow, inbox, outbox } from "./db/schema";
import { type BankDb, type BankTx, campaignAccount, openAccount } from "./ledger";

export const CONSUMER = "bank";
const CAMPAIGNS_CONSUMER = `${CONSUMER}-campaigns`;

export interface BankConsumerDeps {
  db: BankDb;
  clock: Clock;
  log: Logger;
  config: Pick<BankConfig, "DEMO_BALANCE_MINOR">;
  onCommitted?: (() => void) | undefined;
}

export function createBankConsumers({ db, clock, log, config, onCommitted }: BankConsumerDeps) {
  async function announce(tx: BankTx, account: AccountRow, ownerType: "user" | "campaign") {
    await enqueue(
      tx,
      outbox,
      newEvent(
        BankAccountOpened.type,
        account.id,
        { accountId: account.id, ownerType, ownerId: account.ownerId, currency: account.currency },
        clock,
      ),
    );
  }

  /** Opens the user's BDT account with the demo balance (a funding transfer); once per user. */
  async function onUserRegistered(event: UserRegisteredEvent): Promise<boolean> {
    const applied = await db.transaction(async (tx) => {
      if (!(await recordInbox(tx, inbox, CONSUMER, event.id))) return false;
      const { account } = await openAccount(tx, {
        ownerType: "user",
        ownerId: event.data.userId,
        currency: "BDT",
        fundMinor: config.DEMO_BALANCE_MINOR,
        now: clock.date(),
      });
      // Announced even when the account already existed (a re-sent registration), so auth learns its id.
      await announce(tx, account, "user");
      return true;
    });
    if (applied) onCommitted?.();
    return applied;
  }

  /** Opens the campaign's receiving account in its currency, or adopts the one a pledge created first. */
  async function onCampaignCreated(event: EventEnvelope<CampaignSnapshot>): Promise<boolean> {
    const campaign = event.data;
    const applied = await db.transaction(async (tx) => {
      if (!(await recordInbox(tx, inbox, CONSUMER, event.id))) return false;
      const { account, created } = await campaignAccount(tx, campaign.id, campaign.currency, clock.date());
      // Only possible if a pledge in another currency got through first; pledge refuses that, so
      // it is a bug elsewhere: keep the ledger as it is and say so.
      if (!created && account.currency !== campaign.currency) {
        log.warn(
          { accountId: account.id, campaignId: campaign.id, accountCurrency: account.currency },
          "bank.campaign_account_currency_mismatch",
        );
      }
      await announce(tx, account, "campaign");
      return true;
    });
    if (applied) onCommitted?.();
    return applied;
  }

  async function handle(event: EventEnvelope): Promise<void> {
    if (event.type === UserRegistered.type) await onUserRegistered(event as UserRegisteredEvent);
    else if (event.type === CampaignCreated.type) await onCampaignCreated(event as EventEnvelope<CampaignSnapshot>);
  }

  /**
   * Durable consumers shared by every bank replica, one per event family: a server that takes one
   * filter subject per consumer (nats-server 2.9) would send a consumer of both every event of the stream.
   */
  async function subscribe(bus: Bus): Promise<Subscription[]> {
    const subscribeTo = (durable: string, type: string) => bus.subscribe({ durable, types: [type], handler: handle });
    // Each subscription carries its durable name, the label of its lag gauge.
    return Promise.all([
      subscribeTo(CONSUMER, UserRegistered.type),
      subscribeTo(CAMPAIGNS_CONSUMER, CampaignCreated.type),
    ]);
  }

  return { onUserRegistered, onCampaignCreated, handle, subscribe };
}

export type BankConsumers = ReturnType<typeof createBankConsumers>;
