// The archiver process: the shared boot (config, JetStream, metrics, listen, ordered stop) around
// its one job — the durable consumer that indexes every domain event into Elasticsearch with the
// client's bulk helper, the event id as the document id. No database: Elasticsearch's document id
// makes a redelivery overwrite itself, so the bus's at-least-once delivery is all it needs
// (docs/operating/logs.md). Stop order: the consumer (handlers in flight get their answer), then the client.
import { defineService, runService } from "@careforall/boot";
import { createArchiverApp } from "./app";
import { createBulkIndexer } from "./bulk-indexer";
import { ArchiverConfigSchema } from "./config";
import { createElasticsearchClient } from "./elasticsearch";
import { putIndexTemplates } from "./index-template";
import { archiverMetrics } from "./metrics";
import { startArchiveConsumer } from "./workers/events-consumer";

/** Re-sends of throttled (429) documents inside one bulk call, and the wait before each. */
const THROTTLE_RETRIES = 2;
const THROTTLE_WAIT_MS = 500;
const READY_TIMEOUT_MS = 1_500;

export const archiverService = defineService({
  name: "archiver",
  config: ArchiverConfigSchema,
  // Nobody calls the archiver: it trusts no other service's key.
  trustsOthers: false,
  async start({ config, log, bus, metrics, identity, checks, consume, onStop }) {
    const client = createElasticsearchClient(config);
    const counters = archiverMetrics(metrics);

    // The mapping goes in before the first document (each monthly index is created from it); a
    // failure is retried by the next bulk request, and the events wait in the stream meanwhile.
    let template: Promise<void> | undefined;
    const ready = () => {
      template ??= putIndexTemplates(client, config.ARCHIVE_INDEX_PREFIX).then(
        () => log.info({ prefix: config.ARCHIVE_INDEX_PREFIX }, "archiver.index_template_installed"),
        (err) => {
          template = undefined;
          throw err;
        },
      );
      return template;
    };

    const indexer = createBulkIndexer({
      client,
      log,
      metrics: counters,
      maxBatch: config.ARCHIVE_BATCH_MAX,
      maxWaitMs: config.ARCHIVE_BATCH_WAIT_MS,
      ready,
      throttleRetries: THROTTLE_RETRIES,
      throttleWaitMs: THROTTLE_WAIT_MS,
    });
    // An event's handler waits for its batch, the templates (two calls, at the first batch), the bulk
    // call and its re-sends of throttled documents, each call with the client's own retries: it
    // must not outlive ack_wait, or the event would be redelivered while still in hand.
    const calls = 2 + THROTTLE_RETRIES + 1;
    const ackWaitMs =
      config.ARCHIVE_BATCH_WAIT_MS +
      calls * (config.ELASTICSEARCH_MAX_RETRIES + 1) * config.ELASTICSEARCH_TIMEOUT_MS +
      THROTTLE_RETRIES * THROTTLE_WAIT_MS +
      10_000;
    onStop("elasticsearch", () => client.close());
    consume(
      await startArchiveConsumer(bus, indexer, counters, log, {
        indexPrefix: config.ARCHIVE_INDEX_PREFIX,
        inFlight: config.ARCHIVE_BATCH_MAX,
        backoffMs: config.ARCHIVE_RETRY_BACKOFF_MS.split(",").map(Number),
        maxDeliver: config.ARCHIVE_MAX_DELIVER,
        ackWaitMs,
      }),
    );

    return createArchiverApp({
      log,
      identity,
      metrics,
      checks: {
        ...checks,
        elasticsearch: {
          check: () => client.ping({}, { requestTimeout: READY_TIMEOUT_MS, maxRetries: 0 }),
          optional: true,
        },
      },
    });
  },
});

export type { ArchiverApp } from "./app";

if (import.meta.main) await runService(archiverService);
