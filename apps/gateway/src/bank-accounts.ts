// A signed-in user's own bank account id, as the bank knows it (opened from user.registered).
// Remembered once found: a user's account never changes, so pledges need no lookup after the first.
import type { BankApp } from "@careforall/bank";
import type { Treaty } from "@elysiajs/eden";
import { upstreamHeaders } from "./upstream";

export interface BankAccounts {
  /** The user's account id, or null while the bank has not opened it yet. */
  ofUser(userId: string, requestId: string): Promise<string | null>;
}

export function createBankAccounts(bank: Treaty.Create<BankApp>, maxEntries = 100_000): BankAccounts {
  const known = new Map<string, string>();
  return {
    async ofUser(userId, requestId) {
      const cached = known.get(userId);
      if (cached) return cached;
      const res = await bank.bank.accounts["by-owner"]({ ownerType: "user" })({ ownerId: userId }).get({
        headers: upstreamHeaders(requestId),
      });
      if (res.status === 404) return null;
      if (res.error || !res.data) throw new Error(`bank answered ${res.status}`);
      if (known.size >= maxEntries) known.clear();
      known.set(userId, res.data.bankAccountId);
      return res.data.bankAccountId;
    },
  };
}
