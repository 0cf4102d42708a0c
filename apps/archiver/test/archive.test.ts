// archiverService booted by bootService on the servers profile (real NATS JetStream, a stream of
// this run's own), its real @elastic/elasticsearch client talking to a local stand-in of the bulk
// API: every event lands under its own id, a redelivery overwrites itself, 429/5xx are retried
// with nothing dropped, per-document errors are retried (429) or dead-lettered (400), and a
// restart resumes where the consumer stopped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type BootedService, bootService, serversInfrastructure } from "@careforall/boot";
import { type Bus, createJetStreamBus, deleteStream, type EventEnvelope } from "@careforall/bus";
import { createLogger, silentLogger } from "@careforall/log";
import { TEST_NATS_URL, testServiceKeys, uniqueName, waitFor } from "@careforall/testkit";
import type { ArchiverConfig } from "../src/config";
import { archiverService } from "../src/main";
import { type StandIn, startStandIn } from "./es-stand-in";

const WAIT = { timeoutMs: 60_000, intervalMs: 50 };

let es: StandIn;
let prefix: string;
let publisher: Bus;
let archiver: BootedService<ArchiverConfig> | undefined;
const logLines: Array<Record<string, unknown>> = [];

async function bootArchiver(): Promise<BootedService<ArchiverConfig>> {
  const keys = await testServiceKeys();
  return bootService(archiverService, {
    infrastructure: serversInfrastructure(),
    port: 0,
    env: {
      LOG_LEVEL: "info",
      SERVICE_PRIVATE_KEY: keys.archiver.privateKeyPem,
      NATS_URL: TEST_NATS_URL,
      BUS_PREFIX: prefix,
      ELASTICSEARCH_URL: es.url,
      ELASTICSEARCH_MAX_RETRIES: "1",
      ELASTICSEARCH_TIMEOUT_MS: "10000",
      ARCHIVE_BATCH_MAX: "50",
      ARCHIVE_BATCH_WAIT_MS: "20",
      ARCHIVE_RETRY_BACKOFF_MS: "100,200,400",
    },
    createLog: (service, level) =>
      createLogger({
        service,
        level,
        destination: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
      }),
  });
}

const running = () => {
  if (!archiver) throw new Error("the archiver is not running");
  return archiver;
};

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${running().port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The sum of the series of `name` on /metrics that carry all of `labels` (0 when none). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
const failures = (text: string, outcome: string) => metric(text, "careforall_archiver_failures_total", { outcome });
const indexed = (text: string) => metric(text, "careforall_archiver_events_indexed_total");
const lag = (text: string) => metric(text, "careforall_bus_consumer_pending", { consumer: "archiver" });

let seq = 0;
function makeEvent(type: string, occurredAt = "2026-12-04T10:00:00.000Z", data: unknown = {}): EventEnvelope {
  seq++;
  return { id: Bun.randomUUIDv7(), type, occurredAt, aggregateId: `agg-${seq}`, data: { seq, ...(data as object) } };
}

const landed = (events: EventEnvelope[]) => events.every((e) => es.docs.has(e.id));

beforeAll(async () => {
  es = startStandIn();
  prefix = uniqueName("archiver");
  publisher = await createJetStreamBus({ url: TEST_NATS_URL, prefix, log: silentLogger() });
  archiver = await bootArchiver();
}, 30_000);

afterAll(async () => {
  await archiver?.stop();
  await publisher?.close();
  await deleteStream(TEST_NATS_URL, prefix);
  es?.stop();
}, 30_000);

describe("archiving every domain event", () => {
  test("each event lands once under its id, in its UTC month's index, after the index template", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const events = [
      makeEvent("pledge.created", "2026-11-30T23:59:59.999Z", { amountMinor: 2500, note: { nested: ["a"] } }),
      makeEvent("payment.captured", "2026-12-01T00:00:00.000Z"),
      makeEvent("campaign.totals_changed"),
      makeEvent("user.registered"),
      makeEvent("audit.completed"),
    ];
    await publisher.publish(events[0] as EventEnvelope, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "x-request-id": "req-one-donation" },
    });
    for (const event of events.slice(1)) await publisher.publish(event);
    await waitFor(() => landed(events), { ...WAIT, what: "every event in the stand-in" });

    for (const event of events) {
      const doc = es.docs.get(event.id);
      expect(doc?.id).toBe(event.id);
      expect(doc?.writes).toBe(1);
      expect(doc?.source).toMatchObject({
        "@timestamp": event.occurredAt,
        id: event.id,
        type: event.type,
        family: event.type.split(".")[0],
        aggregateId: event.aggregateId,
        occurredAt: event.occurredAt,
        data: event.data,
      });
    }
    expect(es.docs.get(events[0]?.id as string)?.index).toBe("careforall-events-2026.11");
    expect(es.docs.get(events[1]?.id as string)?.index).toBe("careforall-events-2026.12");
    // The request and trace that caused an event are searchable beside it (and in the logs).
    expect(es.docs.get(events[0]?.id as string)?.source).toMatchObject({ traceId, requestId: "req-one-donation" });

    // The mapping was put before the first document, for every monthly index.
    expect(es.requests.indexOf("PUT /_index_template/careforall-events")).toBeGreaterThanOrEqual(0);
    expect(es.requests.indexOf("PUT /_index_template/careforall-events")).toBeLessThan(
      es.requests.indexOf("POST /_bulk"),
    );
    const template = es.templates.get("careforall-events") as {
      index_patterns: string[];
      template: { mappings: { properties: Record<string, { type: string }> } };
    };
    expect(template.index_patterns).toEqual(["careforall-events-*"]);
    expect(template.template.mappings.properties.data?.type).toBe("flattened");
    expect(template.template.mappings.properties.id?.type).toBe("keyword");
    // And the shipped logs' template (deploy/fluent-bit writes careforall-logs-YYYY.MM.DD).
    expect((es.templates.get("careforall-logs") as { index_patterns: string[] }).index_patterns).toEqual([
      "careforall-logs-*",
    ]);

    const text = await waitFor(async () => {
      const t = await scrape();
      return lag(t) === 0 && indexed(t) >= events.length ? t : null;
    }, WAIT);
    expect(failures(text, "dead_lettered")).toBe(0);
    expect((await fetch(`http://127.0.0.1:${running().port}/health`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${running().port}/ready`);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({
      nats: "up",
      elasticsearch: "up",
    });
    expect(es.violations).toEqual([]);
  }, 120_000);

  test("an answer lost after the write: the events come back and overwrite their own documents", async () => {
    const events = Array.from({ length: 10 }, () => makeEvent("pledge.captured"));
    es.loseFirstAnswerFor(events.map((e) => e.id));
    for (const event of events) await publisher.publish(event);
    await waitFor(() => events.every((e) => (es.docs.get(e.id)?.writes ?? 0) >= 2), {
      ...WAIT,
      what: "every document written twice",
    });
    // One document per event (the ids did not change), its content the event's.
    for (const event of events) {
      const doc = es.docs.get(event.id);
      expect(doc?.source.id).toBe(event.id);
      expect(doc?.source.data).toEqual(event.data);
    }
    expect(new Set(events.map((e) => es.docs.get(e.id)?.index)).size).toBe(1);
    const text = await waitFor(async () => {
      const t = await scrape();
      return lag(t) === 0 ? t : null;
    }, WAIT);
    expect(failures(text, "retried")).toBeGreaterThanOrEqual(events.length);
    expect(failures(text, "dead_lettered")).toBe(0);
  }, 120_000);

  test("Elasticsearch failing for a while (503, 429, 500, 502): retried with backoff until it recovers, nothing dropped", async () => {
    const before = await scrape();
    const bulksBefore = es.bulkRequests();
    es.failNext([503, 503, 429, 500, 502, 502, 503, 429, 500]);
    const events = Array.from({ length: 40 }, (_, i) =>
      makeEvent(i % 2 ? "pledge.created" : "payment.authorized", `2026-12-0${1 + (i % 9)}T12:00:00.000Z`),
    );
    for (const event of events) await publisher.publish(event);
    await waitFor(() => landed(events), { ...WAIT, what: "every event after the outage" });
    // Every failure answered was tried again: the stand-in saw all 9 failures and more.
    expect(es.bulkRequests() - bulksBefore).toBeGreaterThan(9);
    const text = await waitFor(async () => {
      const t = await scrape();
      return lag(t) === 0 ? t : null;
    }, WAIT);
    expect(failures(text, "retried")).toBeGreaterThan(failures(before, "retried"));
    expect(failures(text, "dead_lettered")).toBe(0);
    expect(metric(text, "careforall_bus_events_terminated_total")).toBe(0);
    // Each retry is logged by the bus with the event's id and Elasticsearch's answer.
    const retried = logLines.find((l) => l.msg === "bus.handler_failed" && events.some((e) => e.id === l.eventId));
    expect(String((retried?.err as { message?: string } | undefined)?.message)).toMatch(
      /not archived \(status (503|429|500|502)\)/,
    );
    expect(events.every((e) => es.docs.get(e.id)?.source.id === e.id)).toBe(true);
    expect(es.violations).toEqual([]);
  }, 120_000);

  test("while Elasticsearch keeps failing, an event is tried again only after each backoff step, not in a loop", async () => {
    // 500 is not re-sent by the client itself: every try of the event is one redelivery by the bus.
    es.failNext([500, 500, 500, 500]);
    const event = makeEvent("payment.failed");
    await publisher.publish(event);
    await waitFor(() => es.docs.has(event.id), { ...WAIT, what: "the event after four failures" });
    const seen = es.sightings(event.id);
    expect(seen).toHaveLength(5);
    // ARCHIVE_RETRY_BACKOFF_MS=100,200,400 (the last repeats): the bus redelivers no sooner.
    const gaps = seen.slice(1).map((t, i) => t - (seen[i] as number));
    for (const [i, delay] of [100, 200, 400, 400].entries())
      expect({ gap: i, waited: (gaps[i] as number) >= delay * 0.95 }).toEqual({ gap: i, waited: true });
  }, 120_000);

  test("per-document errors in a 200 answer: 429 documents retried until accepted, 400 documents dead-lettered once", async () => {
    const events = Array.from({ length: 20 }, () => makeEvent("campaign.updated"));
    const throttled = new Set(events.slice(0, 3).map((e) => e.id));
    const rejected = new Set(events.slice(3, 5).map((e) => e.id));
    // Throttled 4 times: past the helper's own 2 re-sends, so the bus redelivers them too.
    es.itemStatus = (id, attempt) => (throttled.has(id) && attempt <= 4 ? 429 : rejected.has(id) ? 400 : undefined);
    const before = await scrape();
    try {
      for (const event of events) await publisher.publish(event);
      const accepted = events.filter((e) => !rejected.has(e.id));
      await waitFor(() => landed(accepted), { ...WAIT, what: "the accepted and throttled documents" });
      for (const id of throttled) expect(es.attempts(id)).toBe(5);
      // Dead-lettered: acknowledged (the consumer's lag drains to 0 with them in it), so never redelivered.
      const text = await waitFor(async () => {
        const t = await scrape();
        return lag(t) === 0 && failures(t, "dead_lettered") - failures(before, "dead_lettered") >= 2 ? t : null;
      }, WAIT);
      expect(failures(text, "dead_lettered") - failures(before, "dead_lettered")).toBe(2);
      for (const id of rejected) {
        expect(es.docs.has(id)).toBe(false);
        expect(es.attempts(id)).toBe(1);
        const line = logLines.find((l) => l.msg === "archiver.event_dead_lettered" && l.eventId === id);
        expect(line).toMatchObject({ level: "error", eventType: "campaign.updated", status: 400, service: "archiver" });
        expect(String(line?.reason)).toContain("mapper_parsing_exception");
      }
    } finally {
      es.itemStatus = () => undefined;
    }
  }, 120_000);

  test("a restart resumes where the consumer stopped: events failed before it and published during it all land", async () => {
    // Elasticsearch refuses everything while these are in flight: they go back to the stream.
    const failedBefore = failures(await scrape(), "retried");
    es.failNext(Array.from({ length: 1_000 }, () => 503));
    const beforeStop = Array.from({ length: 15 }, () => makeEvent("pledge.refunded"));
    for (const event of beforeStop) await publisher.publish(event);
    await waitFor(async () => failures(await scrape(), "retried") > failedBefore, WAIT);
    await running().stop();
    archiver = undefined;

    es.clearFailures();
    const whileDown = Array.from({ length: 10 }, () => makeEvent("pledge.created"));
    for (const event of whileDown) await publisher.publish(event);
    expect(beforeStop.concat(whileDown).some((e) => es.docs.has(e.id))).toBe(false);

    archiver = await bootArchiver();
    const all = [...beforeStop, ...whileDown];
    await waitFor(() => landed(all), { ...WAIT, what: "every event after the restart" });
    await waitFor(async () => lag(await scrape()) === 0, WAIT);
    expect(all.every((e) => es.docs.get(e.id)?.writes === 1)).toBe(true);
  }, 120_000);
});
