// The pledge process: the shared boot (config, PostgreSQL, JetStream, relay, metrics, listen,
// ordered stop) around pledge's own parts — the bank seam (Eden, with a timeout and a breaker),
// the payment and campaign consumers and the idempotency-key sweeper.
import { join } from "node:path";
import type { BankApp } from "@careforall/bank";
import { defineService, runService } from "@careforall/boot";
import { treaty } from "@elysiajs/eden";
import { createPledgeApp } from "./app";
import { cachingSourceVerifier, createEdenSourceVerifier } from "./bank-client";
import { PledgeConfigSchema } from "./config";
import { inbox, outbox, schema } from "./db/schema";
import { createPledgeService } from "./service";
import { startCampaignConsumer } from "./workers/campaign-events";
import { startIdempotencySweeper } from "./workers/idempotency-sweeper";
import { startPaymentConsumer } from "./workers/payment-events";

export const pledgeService = defineService({
  name: "pledge",
  config: PledgeConfigSchema,
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
    upstream,
  }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    pruneInbox({ db, table: inbox });
    const outboxRelay = relay({
      db,
      table: outbox,
      burst: { ratePerSec: config.OUTBOX_BURST_RATE, holdMs: config.OUTBOX_BURST_HOLD_MS },
      enabled: config.OUTBOX_RELAY_ENABLED,
    });
    const onCommitted = () => outboxRelay.kick();

    // A bank that stops answering costs BANK_TIMEOUT_MS for the first few donors only: after
    // BANK_BREAKER_FAILURES failed calls in a row, new sources get 503 at once for BANK_RETRY_MS.
    const bank = upstream("bank", {
      timeoutMs: config.BANK_TIMEOUT_MS,
      openMs: config.BANK_RETRY_MS,
      failureThreshold: config.BANK_BREAKER_FAILURES,
    });
    const verifier = cachingSourceVerifier(
      createEdenSourceVerifier(treaty<BankApp>(bank.url, { parseDate: false, fetcher: bank.fetch }), log),
      { ttlMs: config.GRANT_CACHE_SECONDS * 1000 },
    );

    const consumerDeps = { db, clock, log, onCommitted };
    consume(await Promise.all([startPaymentConsumer(bus, consumerDeps), startCampaignConsumer(bus, consumerDeps)]));
    const sweeper = startIdempotencySweeper(createPledgeService({ db, verifier, clock, log, config }), log);
    onStop("idempotency-sweeper", () => sweeper.stop());

    return createPledgeApp({ identity, db, verifier, clock, config, log, metrics, checks, onCommitted });
  },
});

if (import.meta.main) await runService(pledgeService);
