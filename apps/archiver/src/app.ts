// The archiver's HTTP face, built from explicit dependencies with no I/O at import time: only
// /health, /ready and /metrics (it serves nobody; its work is the consumer main.ts starts).
import { type HttpMetrics, httpKit, type ReadinessChecks, type ServiceIdentity } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { Elysia } from "elysia";

export interface ArchiverAppDeps {
  log: Logger;
  /** Its identity: no route of its own accepts any caller, so only the quiet routes answer. */
  identity: ServiceIdentity;
  /** /ready's checks: the bus and Elasticsearch (both optional: the events wait in the stream meanwhile). */
  checks?: ReadinessChecks;
  /** Pass one to share /metrics with the consumer's counters and lag (main does). */
  metrics?: HttpMetrics;
}

export function createArchiverApp(deps: ArchiverAppDeps) {
  return new Elysia().use(
    httpKit({
      service: "archiver",
      log: deps.log,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.checks ? { checks: deps.checks } : {}),
      trust: deps.identity,
    }),
  );
}

export type ArchiverApp = ReturnType<typeof createArchiverApp>;
export { type BulkIndexer, createBulkIndexer } from "./bulk-indexer";
export { type ArchiverConfig, ArchiverConfigSchema } from "./config";
export { archiveIndex, classify, type EventDocument, type Outcome, toDocument, traceIdOf } from "./domain/document";
export { createElasticsearchClient, elasticsearchAuth } from "./elasticsearch";
export { indexTemplate, LOGS_INDEX_PREFIX, logsIndexTemplate, putIndexTemplates } from "./index-template";
export { type ArchiverMetrics, archiverMetrics } from "./metrics";
export { ARCHIVED_EVENTS, ARCHIVER_CONSUMER, startArchiveConsumer } from "./workers/events-consumer";
