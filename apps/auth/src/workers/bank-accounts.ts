// Links each user to the bank account the bank opened for them (bank.account_opened with
// ownerType "user"), once per event (inbox in the same transaction as the update).
import type { Bus, Subscription } from "@careforall/bus";
import { BankAccountOpened, type BankAccountOpenedEvent } from "@careforall/events";
import { recordInbox } from "@careforall/outbox";
import { and, eq, isNull } from "drizzle-orm";
import { inbox, users } from "../db/schema";
import type { AuthDatabase } from "../service";

export const BANK_ACCOUNT_CONSUMER = "auth-bank-accounts";

/** Returns true when the user's account was linked by this event. */
export async function linkBankAccount(db: AuthDatabase, event: BankAccountOpenedEvent): Promise<boolean> {
  const { ownerType, ownerId, accountId } = event.data;
  if (ownerType !== "user" || !ownerId) return false;
  return db.transaction(async (tx) => {
    if (!(await recordInbox(tx, inbox, BANK_ACCOUNT_CONSUMER, event.id))) return false;
    // A user has one bank account: the first link wins, a later one never replaces it.
    const linked = await tx
      .update(users)
      .set({ bankAccountId: accountId })
      .where(and(eq(users.id, ownerId), isNull(users.bankAccountId)))
      .returning({ id: users.id });
    return linked.length === 1;
  });
}

export function startBankAccountConsumer(bus: Bus, db: AuthDatabase): Promise<Subscription> {
  return bus.subscribe({
    durable: BANK_ACCOUNT_CONSUMER,
    types: [BankAccountOpened.type],
    maxDeliver: 50,
    backoffMs: [200, 1000, 5000],
    handler: async (event) => {
      await linkBankAccount(db, event as BankAccountOpenedEvent);
    },
  });
}
