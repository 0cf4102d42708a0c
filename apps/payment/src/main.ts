// The payment process: the shared boot (config, PostgreSQL, JetStream, relay, metrics, listen,
// ordered stop) around payment's own parts — the bank client, the pledge consumers, the
// reconciler, and the background bank drives it lets finish before the relay stops.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { dependencyBreaker } from "@careforall/http";
import { buildPaymentService, createPaymentApp } from "./app";
import { createBankClient } from "./bank-client";
import { backoffList, PaymentConfigSchema } from "./config";
import { inbox, outbox, schema } from "./db/schema";
import { createPledgeCreatedBatch } from "./pledge-created-batch";
import { startPledgeConsumers } from "./workers/pledge-consumers";
import { createReconciler } from "./workers/reconciler";

export const paymentService = defineService({
  name: "payment",
  config: PaymentConfigSchema,
  async start({
    config,
    log,
    clock,
    bus,
    metrics,
    identity,
    checks,
    database,
    pruneInbox,
    relay,
    consume,
    onStop,
    connect,
  }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    pruneInbox({ db, table: inbox });
    const outboxRelay = relay({ db, table: outbox });
    const bankConnection = connect("bank");
    const bank = createBankClient({
      identity,
      url: bankConnection.url,
      fetch: bankConnection.fetch,
      timeoutMs: config.BANK_TIMEOUT_MS,
      breaker: dependencyBreaker("bank", log, {
        openMs: config.BANK_RETRY_MS,
        failureThreshold: config.BANK_BREAKER_FAILURES,
      }),
    });

    const deps = { db, bank, clock, config, log, metrics, onCommitted: () => outboxRelay.kick() };
    const service = buildPaymentService(deps);
    consume(
      await startPledgeConsumers({
        bus,
        service,
        backoffMs: backoffList(config.RETRY_BACKOFF_MS),
        ackWaitMs: config.EVENT_ACK_WAIT_MS,
        pledgeCreatedBatch: {
          handle: createPledgeCreatedBatch({ ...deps, service }),
          max: config.PLEDGE_BATCH_MAX,
          concurrency: config.PLEDGE_BATCH_CONCURRENCY,
        },
      }),
    );
    const reconciler = createReconciler({ db, service, clock, config, log });
    reconciler.start();
    onStop("reconciler", () => reconciler.stop());
    onStop("bank-drives", () => service.idle());

    return createPaymentApp({ ...deps, identity, service, checks });
  },
});

if (import.meta.main) await runService(paymentService);
