// The campaign process: the shared boot (config, PostgreSQL, JetStream, relay, metrics, listen,
// ordered stop) around campaign's own parts — the totals consumer and the ended-campaign sweeper.
import { join } from "node:path";
import { defineService, runService } from "@careforall/boot";
import { createCampaignApp } from "./app";
import { CampaignConfigSchema } from "./config";
import { inbox, outbox, schema } from "./db/schema";
import { createEndedCampaignCloser } from "./ended-campaigns";
import { campaignMetrics } from "./metrics";
import { createTotalsService } from "./totals";
import { startEndSweeper } from "./workers/end-sweeper";
import { startTotalsConsumer } from "./workers/totals-consumer";

export const campaignService = defineService({
  name: "campaign",
  config: CampaignConfigSchema,
  async start({ config, log, clock, bus, metrics, identity, checks, database, pruneInbox, relay, consume, onStop }) {
    const { db } = await database({ schema, migrationsFolder: join(import.meta.dir, "db", "migrations") });
    pruneInbox({ db, table: inbox });
    const outboxRelay = relay({ db, table: outbox });
    const onCommitted = () => outboxRelay.kick();

    const totals = createTotalsService({ db, clock, log, onCommitted });
    consume(await startTotalsConsumer(bus, totals, campaignMetrics(metrics)));
    const endSweeper = startEndSweeper(
      createEndedCampaignCloser({ db, clock, onCommitted }),
      log,
      config.END_SWEEP_INTERVAL_MS,
    );
    onStop("end-sweeper", () => endSweeper.stop());

    return createCampaignApp({ identity, db, clock, config, log, metrics, checks, onCommitted });
  },
});

if (import.meta.main) await runService(campaignService);
