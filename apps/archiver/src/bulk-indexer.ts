// Gathers the documents of events being delivered one by one into bulk requests sent with the
// client's bulk helper, and answers each event with its own document's outcome as soon as it is
// known, so the bus acks, retries or dead-letters every event by what Elasticsearch said about
// it: a throttled or refused document neither holds back nor re-sends its neighbours. A request
// that fails as a whole (an HTTP error, no answer) answers `retry` for every document it did not
// see accepted.
import type { Logger } from "@careforall/log";
import type { Client } from "@elastic/elasticsearch";
import { classify, type EventDocument, type Outcome } from "./domain/document";
import { reasonOf, statusOf } from "./elasticsearch";
import type { ArchiverMetrics } from "./metrics";

export interface BulkIndexerOptions {
  client: Client;
  log: Logger;
  metrics: Pick<ArchiverMetrics, "bulkSeconds">;
  /** Most documents in one bulk request. */
  maxBatch: number;
  /** After the first document of a request, how long to wait for more. */
  maxWaitMs: number;
  /** Runs before every request and must resolve first (the index template); its failure answers `retry`. */
  ready?: () => Promise<void>;
  /** Re-sends of documents answered 429 inside one request (the helper's own, after `throttleWaitMs`). */
  throttleRetries?: number;
  throttleWaitMs?: number;
}

export interface BulkIndexer {
  /** Resolves once Elasticsearch has answered for this document (never rejects). */
  index(index: string, doc: EventDocument): Promise<Outcome>;
  /** Sends what is waiting now instead of after maxWaitMs; resolves when every request in flight is answered. */
  flush(): Promise<void>;
}

interface Waiting {
  index: string;
  doc: EventDocument;
  answer(outcome: Outcome): void;
}

export function createBulkIndexer(options: BulkIndexerOptions): BulkIndexer {
  const { client, log, metrics, maxBatch, maxWaitMs, ready = async () => {} } = options;
  const throttleRetries = options.throttleRetries ?? 2;
  const throttleWaitMs = options.throttleWaitMs ?? 500;
  let waiting: Waiting[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const inFlight = new Set<Promise<void>>();

  const send = async (batch: Waiting[]): Promise<void> => {
    // Each document is answered as soon as Elasticsearch has answered for it (a throttled
    // neighbour's re-sends do not hold its ack back); what is left unanswered at the end gets the
    // request's failure, or "no answer".
    const unanswered = new Map<string, Waiting[]>();
    for (const w of batch) unanswered.set(w.doc.id, [...(unanswered.get(w.doc.id) ?? []), w]);
    const answer = (id: string | undefined | null, outcome: Outcome) => {
      if (!id) return;
      for (const w of unanswered.get(id) ?? []) w.answer(outcome);
      unanswered.delete(id);
    };
    const started = performance.now();
    let failure: Outcome | undefined;
    try {
      await ready();
      await client.helpers.bulk<Waiting>({
        datasource: batch,
        onDocument: (w) => [{ index: { _index: w.index, _id: w.doc.id } }, w.doc],
        onSuccess: ({ result }) => answer(result.index?._id, { kind: "indexed" }),
        onDrop: ({ status, error, operation }) =>
          answer(
            "index" in operation ? operation.index._id : undefined,
            classify(status, error ? reasonOf(error) : `status ${status}`),
          ),
        retries: throttleRetries,
        wait: throttleWaitMs,
        // One request per batch (a batch of maxBatch events stays far below this).
        flushBytes: 50_000_000,
        concurrency: 1,
      });
    } catch (err) {
      failure = { kind: "retry", status: statusOf(err), reason: reasonOf(err) };
      log.warn(
        {
          status: failure.status,
          reason: failure.reason,
          documents: batch.length,
          unanswered: unanswered.size,
        },
        "archiver.bulk_failed",
      );
    }
    metrics.bulkSeconds.observe({ result: failure ? "failed" : "ok" }, (performance.now() - started) / 1000);
    for (const id of [...unanswered.keys()])
      answer(id, failure ?? { kind: "retry", status: 0, reason: "no answer for this document" });
  };

  const dispatch = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(maxBatch);
      const running = send(batch).finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
  };

  return {
    index(index, doc) {
      return new Promise<Outcome>((answer) => {
        waiting.push({ index, doc, answer });
        if (waiting.length >= maxBatch) dispatch();
        else timer ??= setTimeout(dispatch, maxWaitMs);
      });
    },
    async flush() {
      dispatch();
      await Promise.all([...inFlight]);
    },
  };
}
