// The bank process: the shared boot (config, PostgreSQL, JetStream, relay, metrics, listen,
// ordered stop) around the bank's own parts — the fault knobs, the system and test accounts,
// the consumers, the expiry sweeper and the webhook sender.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { createBankApp } from "./app";
import { BankConfigSchema, demoBankOn } from "./config";
import { createBankConsumers } from "./consumers";
import { inbox, outbox, schema } from "./db/schema";
import { faultsFromConfig } from "./domain";
import { createFaultStore } from "./faults";
import { ensureFixedAccounts } from "./ledger";
import { bankMetrics } from "./metrics";
import { createExpirySweeper } from "./workers/expiry-sweeper";
import { createWebhookSender } from "./workers/webhook-sender";

export const bankService = defineService({
  name: "bank",
  config: BankConfigSchema,
  async start({ config, log, clock, bus, metrics, identity, checks, database, pruneInbox, relay, consume, onStop }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    pruneInbox({ db, table: inbox });
    const outboxRelay = relay({ db, table: outbox });

    // The BANK_* environment is the knobs' value at start; PUT /bank/faults changes them until the next start.
    const faults = createFaultStore({ db, initial: faultsFromConfig(config) });
    await faults.replace(faultsFromConfig(config));
    faults.startSync(config.FAULTS_SYNC_MS, log);
    onStop("fault-sync", () => faults.stop());
    await ensureFixedAccounts(db, clock, { demoBalanceMinor: config.DEMO_BALANCE_MINOR, demoBank: demoBankOn(config) });

    const sender = createWebhookSender({
      db,
      clock,
      log,
      faults,
      random: Math.random,
      metrics: bankMetrics(metrics, db),
      config,
    });
    const onCommitted = () => {
      outboxRelay.kick();
      sender.kick();
    };
    const sweeper = createExpirySweeper({
      db,
      clock,
      log,
      intervalMs: config.SWEEP_INTERVAL_MS,
      onCommitted: () => sender.kick(),
    });
    sender.start();
    sweeper.start();
    onStop("expiry-sweeper", () => sweeper.stop());
    onStop("webhook-sender", () => sender.stop());
    consume(await createBankConsumers({ db, clock, log, config, onCommitted }).subscribe(bus));

    return createBankApp({ identity, db, clock, config, log, metrics, faults, onCommitted, checks });
  },
});

if (import.meta.main) await runService(bankService);
