// The REAL bank for payment tests: the bank app on its own migrated database, served over HTTP on a
// random port, called as the platform calls it (each caller with its own service token). Payment's
// Eden BankClient talks to it as payment. No webhook sender runs: a test signs the webhooks it sends
// (genuine or forged), so what the bank's records say and what a webhook claims can differ on purpose.
import { dirname, join } from "node:path";
import {
  type BankApp,
  BankConfigSchema,
  createBankApp,
  createFaultStore,
  ensureFixedAccounts,
  type Faults,
} from "@careforall/bank";
import { parseConfig, systemClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import { type ServiceName, serviceFetch } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { createTestKeys, testServiceIdentity } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import { type BankClient, createEdenBankClient } from "../src/bank-client";
import { WEBHOOK_SECRET } from "./support";

export const NO_FAULTS: Faults = {
  errorRate: 0,
  lostResponseRate: 0,
  latencyMs: 0,
  webhookDuplicateRate: 0,
  webhookReorder: false,
  webhookDropRate: 0,
};

export type BankApi = ReturnType<typeof treaty<BankApp>>;

export async function startRealBank() {
  const database = await createTestDatabase("bank_for_payment");
  // The bank package's own committed migrations, found through its entry point (no deep import).
  const bankSrc = dirname(Bun.resolveSync("@careforall/bank", import.meta.dir));
  await migrate({ url: database.url, migrationsFolder: join(bankSrc, "db", "migrations"), schema: "bank" });
  // @careforall/bank does not export its drizzle schema; the bank never uses db.query, so an empty
  // relational schema is enough (typed through the factory's own parameter).
  const handle = createDb({ url: database.url, schema: {}, max: 12, name: "bank-for-payment-test" });
  const db = handle.db as unknown as Parameters<typeof createBankApp>[0]["db"];
  const log = silentLogger("bank-in-payment-test");
  const config = parseConfig("bank", BankConfigSchema, {
    NODE_ENV: "test",
    JWT_PUBLIC_KEY: (await createTestKeys()).publicKeyPem,
    WEBHOOK_SECRET,
  });
  const faults = createFaultStore({ db, initial: NO_FAULTS });
  await ensureFixedAccounts(db, systemClock, { demoBalanceMinor: config.DEMO_BALANCE_MINOR });
  const app = createBankApp({
    identity: await testServiceIdentity("bank"),
    db,
    clock: systemClock,
    config,
    log,
    faults,
  });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  const url = `http://127.0.0.1:${server.port}`;

  /** The bank over HTTP as `caller` calls it (its service token on every request). */
  async function as(caller: ServiceName): Promise<BankApi> {
    return treaty<BankApp>(url, {
      parseDate: false,
      fetcher: serviceFetch(await testServiceIdentity(caller), "bank", fetch),
    });
  }
  const gateway = await as("gateway");
  const pledge = await as("pledge");
  const payment = await as("payment");

  return {
    url,
    faults,
    /** The bank's routes as payment calls them (to act behind payment's back, as another party would). */
    payment,
    /** Payment's own BankClient, talking to this bank over HTTP as payment. */
    client: (): BankClient => createEdenBankClient(payment),
    /** A funded demo account and a grant to draw on it (as the gateway and pledge get them). */
    async accountWithGrant() {
      const opened = await gateway.bank.accounts.post({});
      if (!opened.data) throw new Error(`open account: ${opened.status}`);
      const granted = await pledge.bank.grants.post({
        accountId: opened.data.bankAccountId,
        accountSecret: opened.data.accountSecret,
      });
      if (!granted.data) throw new Error(`grant: ${granted.status}`);
      return { accountId: opened.data.bankAccountId, grant: granted.data.grant };
    },
    /** The hold as the bank has it now. */
    async hold(id: string) {
      const res = await payment.bank.holds({ id }).get();
      if (!res.data) throw new Error(`hold ${id}: ${res.status}`);
      return res.data;
    },
    /** The bank's stored authorize answer for an idempotency key (the payment id). */
    async holdByKey(key: string) {
      const res = await payment.bank.holds["by-key"]({ key }).get();
      if (!res.data) throw new Error(`hold by key ${key}: ${res.status}`);
      return res.data;
    },
    async stop() {
      server.stop(true);
      await handle.close();
      await database.drop();
    },
  };
}

export type RealBank = Awaited<ReturnType<typeof startRealBank>>;
