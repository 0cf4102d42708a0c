// Test harness for the bank: a fresh migrated PostgreSQL database, the app called in-process with
// a manual clock, scriptable randomness and instant sleeps, plus shortcuts for the common calls.
import { expect } from "bun:test";
import { join } from "node:path";
import { manualClock, parseConfig } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { adminTokenFor, bankCallHeaders, createTestKeys, testServiceIdentity } from "@careforall/testkit";
import { eq, sql } from "drizzle-orm";
import { createBankApp } from "../src/app";
import { BankConfigSchema, demoBankOn } from "../src/config";
import { accounts, entries, schema } from "../src/db/schema";
import { faultsFromConfig } from "../src/domain";
import { createFaultStore } from "../src/faults";
import { ensureFixedAccounts, openAccount, TEST_ACCOUNT_SECRET } from "../src/ledger";
import type { BankModel } from "../src/model";

export interface BankTestOptions {
  env?: Record<string, string>;
  onCommitted?: () => void;
  /** Replaces the short real sleep (e.g. a gate that holds the slow account's answer open). */
  sleep?: (ms: number) => Promise<unknown>;
}

/** A random source that returns `values` in order, then `fallback` forever. */
export function scripted(values: number[], fallback = 0.99): () => number {
  const queue = [...values];
  return () => queue.shift() ?? fallback;
}

export async function startBankTestApp(options: BankTestOptions = {}) {
  const database = await createTestDatabase("bank");
  await migrate({
    url: database.url,
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema: "bank",
  });
  const handle = createDb({ url: database.url, schema, max: 24, name: "bank-test" });
  const db = handle.db;
  const clock = manualClock(Date.now());
  const keys = await createTestKeys();
  const adminToken = await adminTokenFor(keys.privateKeyPem);
  const config = parseConfig("bank", BankConfigSchema, {
    NODE_ENV: "test",
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    SLOW_ACCOUNT_DELAY_MS: "40",
    ...options.env,
  });
  let random: () => number = Math.random;
  const sleeps: number[] = [];
  const log = silentLogger("bank-test");
  const faults = createFaultStore({ db, initial: faultsFromConfig(config) });
  const metrics = createHttpMetrics("bank");
  let commits = 0;
  const app = createBankApp({
    identity: await testServiceIdentity("bank"),
    db,
    clock,
    config,
    log,
    metrics,
    faults,
    random: () => random(),
    // Recorded, and real but short, so the slow account's delay is observable without slowing the suite.
    sleep: (ms) => {
      sleeps.push(ms);
      return options.sleep ? options.sleep(ms) : Bun.sleep(Math.min(ms, 50));
    },
    onCommitted: () => {
      commits++;
      options.onCommitted?.();
    },
  });
  await ensureFixedAccounts(db, clock, { demoBalanceMinor: config.DEMO_BALANCE_MINOR, demoBank: demoBankOn(config) });

  /**
   * Calls the bank as its real caller would: payment for holds, pledge for grants, the gateway for
   * the rest — with an administrator's token on the operator routes. `headers` override all of it.
   */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...(await headersFor(path)), ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    return app.handle(new Request(`http://localhost${path}`, init));
  }
  /** The credentials the platform's caller of `path` sends: its service token, and an admin's token on operator routes. */
  async function headersFor(path: string): Promise<Record<string, string>> {
    return bankCallHeaders(path, adminToken);
  }

  async function json<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const res = await call(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} → ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  }

  const openDemo = () => json<BankModel.OpenedAccount>("POST", "/bank/accounts", {}, 201);

  async function grantFor(accountId: string, accountSecret = TEST_ACCOUNT_SECRET): Promise<string> {
    return (await json<BankModel.Grant>("POST", "/bank/grants", { accountId, accountSecret }, 201)).grant;
  }

  /** A demo account funded with exactly `balanceMinor` (through a real funding transfer), and a grant for it. */
  async function accountWith(balanceMinor: number, currency: "BDT" | "USD" | "EUR" = "BDT") {
    const secret = `secret-${crypto.randomUUID()}`;
    const { account } = await db.transaction((tx) =>
      openAccount(tx, {
        ownerType: "demo",
        ownerId: null,
        currency,
        fundMinor: balanceMinor,
        secret,
        now: clock.date(),
      }),
    );
    return { accountId: account.id, secret, grant: await grantFor(account.id, secret) };
  }

  async function account(id: string) {
    const [row] = await db.select().from(accounts).where(eq(accounts.id, id));
    return row;
  }

  /** Invariant 4, checked against the whole ledger. */
  async function expectLedgerBalanced() {
    const [total] = await db.select({ sum: sql<string>`coalesce(sum(${entries.amountMinor}), 0)::text` }).from(entries);
    expect(total!.sum).toBe("0");
    const drift = await db.execute(sql`
      select a.id, a.balance_minor, coalesce(sum(e.amount_minor), 0) as entries_sum
      from bank.accounts a left join bank.entries e on e.account_id = a.id
      group by a.id, a.balance_minor
      having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`);
    expect([...drift]).toEqual([]);
    const perTransfer = await db.execute(sql`
      select transfer_id from bank.entries group by transfer_id having count(*) <> 2 or sum(amount_minor) <> 0`);
    expect([...perTransfer]).toEqual([]);
    const overdrawn = await db.execute(sql`
      select id from bank.accounts where owner_type <> 'system' and (balance_minor - held_minor < 0 or held_minor < 0)`);
    expect([...overdrawn]).toEqual([]);
  }

  return {
    app,
    db,
    clock,
    config,
    faults,
    metrics,
    log,
    sleeps,
    call,
    headersFor,
    json,
    openDemo,
    grantFor,
    accountWith,
    account,
    expectLedgerBalanced,
    commits: () => commits,
    setRandom(fn: () => number) {
      random = fn;
    },
    async stop() {
      await handle.close();
      await database.drop();
    },
  };
}

export type BankTestApp = Awaited<ReturnType<typeof startBankTestApp>>;

export interface AuthorizeInput {
  idempotencyKey?: string;
  accountId: string;
  grant: string;
  amountMinor?: number;
  currency?: "BDT" | "USD" | "EUR";
  campaignId?: string;
  paymentRef?: string;
}

export function authorizeBody(input: AuthorizeInput) {
  const key = input.idempotencyKey ?? Bun.randomUUIDv7();
  return {
    idempotencyKey: key,
    accountId: input.accountId,
    grant: input.grant,
    amountMinor: input.amountMinor ?? 1000,
    currency: input.currency ?? "BDT",
    campaignId: input.campaignId ?? "campaign-1",
    paymentRef: input.paymentRef ?? key,
  };
}

/** Asserts an RFC 9457 problem response with the given status and returns its body. */
export async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as { type: string; title: string; status: number; detail?: string };
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe("string");
  return body;
}
