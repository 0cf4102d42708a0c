// The bulk indexer on the real client against the stand-in, without the bus: documents gathered
// into one request, each answered by its own document's status as soon as it is known (a
// throttled neighbour's re-sends hold nobody back), a refused one with Elasticsearch's reason,
// and every document of a failed request — or of a batch whose templates could not be put — `retry`.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { createBulkIndexer } from "../src/bulk-indexer";
import type { EventDocument, Outcome } from "../src/domain/document";
import { createElasticsearchClient } from "../src/elasticsearch";
import { archiverMetrics } from "../src/metrics";
import { type StandIn, startStandIn } from "./es-stand-in";

let es: StandIn;
beforeAll(() => {
  es = startStandIn();
});
afterAll(() => es.stop());

const doc = (id: string): EventDocument => ({
  "@timestamp": "2026-12-04T10:00:00.000Z",
  id,
  type: "pledge.created",
  family: "pledge",
  aggregateId: "a",
  occurredAt: "2026-12-04T10:00:00.000Z",
  data: {},
});

function indexer(ready?: () => Promise<void>) {
  const client = createElasticsearchClient({
    ELASTICSEARCH_URL: es.url,
    ELASTICSEARCH_TIMEOUT_MS: 10_000,
    ELASTICSEARCH_MAX_RETRIES: 0,
  });
  return createBulkIndexer({
    client,
    log: silentLogger(),
    metrics: archiverMetrics(createHttpMetrics("archiver")),
    maxBatch: 10,
    // Calls made in one go share a request (the batch is sent once they have all been made).
    maxWaitMs: 5,
    throttleRetries: 2,
    throttleWaitMs: 50,
    ...(ready ? { ready } : {}),
  });
}

test("one request for the batch; each document answered on its own, a throttled one last, a refused one with the reason", async () => {
  const ids = ["ok-1", "throttled-1", "refused-1", "ok-2"];
  es.itemStatus = (id, attempt) => (id === "throttled-1" && attempt <= 2 ? 429 : id === "refused-1" ? 400 : undefined);
  const before = es.bulkRequests();
  const bulk = indexer();
  const order: string[] = [];
  const throttledTriesWhenAnswered = new Map<string, number>();
  const outcomes = await Promise.all(
    ids.map((id) =>
      bulk.index("careforall-events-2026.12", doc(id)).then((outcome: Outcome) => {
        order.push(id);
        throttledTriesWhenAnswered.set(id, es.attempts("throttled-1"));
        return outcome;
      }),
    ),
  );
  expect(outcomes.map((o) => o.kind)).toEqual(["indexed", "indexed", "dead_letter", "indexed"]);
  expect(outcomes[2]).toMatchObject({ status: 400, reason: expect.stringContaining("mapper_parsing_exception") });
  // The first request answered the others while the throttled one was still to be re-sent.
  expect(order.at(-1)).toBe("throttled-1");
  for (const id of ["ok-1", "refused-1", "ok-2"]) expect([id, throttledTriesWhenAnswered.get(id)]).toEqual([id, 1]);
  expect(es.attempts("throttled-1")).toBe(3);
  // Four documents gathered into one request (plus the two re-sends of the throttled one).
  expect(es.bulkRequests() - before).toBe(3);
  es.itemStatus = () => undefined;
});

test("a request failing as a whole answers retry with its status for every document", async () => {
  es.failNext([503]);
  const bulk = indexer();
  const outcomes = await Promise.all(["f-1", "f-2"].map((id) => bulk.index("careforall-events-2026.12", doc(id))));
  expect(outcomes).toEqual([
    { kind: "retry", status: 503, reason: expect.any(String) },
    { kind: "retry", status: 503, reason: expect.any(String) },
  ]);
  expect(es.docs.has("f-1")).toBe(false);
});

test("templates that could not be put: nothing is sent, every document answered retry", async () => {
  const before = es.bulkRequests();
  const outcome = await indexer(() => Promise.reject(new Error("template refused"))).index(
    "careforall-events-2026.12",
    doc("t-1"),
  );
  expect(outcome).toMatchObject({ kind: "retry", reason: expect.stringContaining("template refused") });
  expect(es.bulkRequests()).toBe(before);
});
