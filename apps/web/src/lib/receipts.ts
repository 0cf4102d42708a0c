// Receipts a browser keeps: a guest's receiptToken is shown once by the API, so it is remembered here
// (per pledge) to read and follow that pledge later; the guest's demo bank account likewise.
import { type KeyValue, readJson, writeJson } from "./storage";

export interface Receipt {
  pledgeId: string;
  campaignId: string;
  campaignTitle?: string;
  amountMinor: number;
  currency: string;
  receiptToken?: string;
  at: string;
}

export interface DemoAccount {
  bankAccountId: string;
  accountSecret: string;
  currency: string;
}

const RECEIPTS = "cfa.receipts";
const DEMO = "cfa.demoAccounts";
const KEEP = 50;

export function createReceipts(storage: KeyValue) {
  const all = (): Receipt[] => readJson<Receipt[]>(storage, RECEIPTS) ?? [];
  return {
    all,
    get: (pledgeId: string): Receipt | undefined => all().find((r) => r.pledgeId === pledgeId),
    remember(receipt: Receipt): void {
      const rest = all().filter((r) => r.pledgeId !== receipt.pledgeId);
      writeJson(storage, RECEIPTS, [receipt, ...rest].slice(0, KEEP));
    },
    demoAccount: (currency: string): DemoAccount | undefined =>
      (readJson<DemoAccount[]>(storage, DEMO) ?? []).find((a) => a.currency === currency),
    rememberDemoAccount(account: DemoAccount): void {
      const rest = (readJson<DemoAccount[]>(storage, DEMO) ?? []).filter((a) => a.currency !== account.currency);
      writeJson(storage, DEMO, [account, ...rest]);
    },
  };
}

export type Receipts = ReturnType<typeof createReceipts>;
