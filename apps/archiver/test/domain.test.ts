// The archive's pure rules: the index of an event (UTC month of occurredAt, or `undated`), its
// document (the same for every delivery), the trace id of a traceparent, and what each
// Elasticsearch status means for the event (indexed, retried, dead-lettered).
import { describe, expect, test } from "bun:test";
import type { EventEnvelope } from "@careforall/bus";
import { parseConfig } from "@careforall/config";
import { ArchiverConfigSchema } from "../src/config";
import { archiveIndex, classify, toDocument, traceIdOf } from "../src/domain/document";
import { elasticsearchAuth } from "../src/elasticsearch";

describe("archiveIndex", () => {
  test.each([
    ["2026-12-04T10:00:00.000Z", "careforall-events-2026.12"],
    ["2026-11-30T23:59:59.999Z", "careforall-events-2026.11"],
    ["2026-12-01T00:00:00.000Z", "careforall-events-2026.12"],
    // The month is UTC's, whatever offset the timestamp was written with.
    ["2026-12-01T01:30:00+06:00", "careforall-events-2026.11"],
    ["2027-01-01T00:00:00Z", "careforall-events-2027.01"],
  ])("%s → %s", (occurredAt, index) => {
    expect(archiveIndex("careforall-events", occurredAt)).toBe(index);
  });

  test.each([
    [""],
    ["not a date"],
    [undefined],
    [12],
    ["+275760-09-13T00:00:00.000Z"],
    // Elasticsearch's date fields take ISO-8601 with a zone; so does the month.
    ["December 4, 2026"],
    ["2026-12-04T10:00:00"],
    ["2026-13-04T10:00:00Z"],
  ])("%p has no month: careforall-events-undated", (occurredAt) => {
    expect(archiveIndex("careforall-events", occurredAt)).toBe("careforall-events-undated");
  });
});

describe("traceIdOf", () => {
  test("the trace id of a W3C traceparent", () => {
    expect(traceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    expect(traceIdOf(" 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-00 ")).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
  });
  test.each([
    [undefined],
    [""],
    ["00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"],
    ["garbage"],
  ])("none for %p", (header) => {
    expect(traceIdOf(header)).toBeUndefined();
  });
});

describe("toDocument", () => {
  const event: EventEnvelope = {
    id: "0193a0b2-0000-7000-8000-000000000001",
    type: "pledge.captured",
    occurredAt: "2026-12-04T10:00:00.000Z",
    aggregateId: "p-1",
    data: { pledgeId: "p-1", amountMinor: 2500 },
  };
  test("the envelope's fields, the family, and the trace and request that caused it", () => {
    const headers = {
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "x-request-id": "req-1",
    };
    expect(toDocument(event, headers)).toEqual({
      "@timestamp": event.occurredAt,
      id: event.id,
      type: "pledge.captured",
      family: "pledge",
      aggregateId: "p-1",
      occurredAt: event.occurredAt,
      data: event.data,
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      requestId: "req-1",
    });
  });
  test("an occurredAt that is no ISO time is kept as text, out of the date fields (that would refuse the document)", () => {
    const doc = toDocument({ ...event, occurredAt: "December 4, 2026" }, {});
    expect(doc.occurredAtText).toBe("December 4, 2026");
    expect(Object.keys(doc)).not.toContain("@timestamp");
    expect(Object.keys(doc)).not.toContain("occurredAt");
  });

  test("without trace headers: no traceId or requestId field at all; the same event, the same document", () => {
    const doc = toDocument(event, {});
    expect(Object.keys(doc)).not.toContain("traceId");
    expect(Object.keys(doc)).not.toContain("requestId");
    expect(toDocument(event, {})).toEqual(doc);
  });
});

describe("classify", () => {
  test.each([
    [200, "indexed"],
    [201, "indexed"],
    [0, "retry"],
    [429, "retry"],
    [500, "retry"],
    [502, "retry"],
    [503, "retry"],
    [504, "retry"],
    [400, "dead_letter"],
    [403, "dead_letter"],
    [404, "dead_letter"],
    [409, "dead_letter"],
    [413, "dead_letter"],
  ])("status %d → %s", (status, kind) => {
    expect(classify(status, "why").kind).toBe(kind as "indexed" | "retry" | "dead_letter");
  });
});

describe("configuration", () => {
  test("ELASTICSEARCH_URL is required; defaults fill the rest", () => {
    expect(() => parseConfig("archiver", ArchiverConfigSchema, {})).toThrow(/ELASTICSEARCH_URL/);
    const config = parseConfig("archiver", ArchiverConfigSchema, { ELASTICSEARCH_URL: "http://elasticsearch:9200" });
    expect(config).toMatchObject({ PORT: 3108, ARCHIVE_INDEX_PREFIX: "careforall-events", ARCHIVE_BATCH_MAX: 500 });
    expect(() => parseConfig("archiver", ArchiverConfigSchema, { ELASTICSEARCH_URL: "elasticsearch:9200" })).toThrow(
      /ELASTICSEARCH_URL/,
    );
    expect(() =>
      parseConfig("archiver", ArchiverConfigSchema, {
        ELASTICSEARCH_URL: "http://es:9200",
        ARCHIVE_RETRY_BACKOFF_MS: "100,,200",
      }),
    ).toThrow(/ARCHIVE_RETRY_BACKOFF_MS/);
  });

  test("credentials: a user with a password, or an API key, or none — never half a pair or both", () => {
    const base = parseConfig("archiver", ArchiverConfigSchema, { ELASTICSEARCH_URL: "http://es:9200" });
    expect(elasticsearchAuth(base)).toBeUndefined();
    expect(elasticsearchAuth({ ...base, ELASTICSEARCH_USERNAME: "u", ELASTICSEARCH_PASSWORD: "p" })).toEqual({
      username: "u",
      password: "p",
    });
    expect(elasticsearchAuth({ ...base, ELASTICSEARCH_API_KEY: "k" })).toEqual({ apiKey: "k" });
    expect(() => elasticsearchAuth({ ...base, ELASTICSEARCH_USERNAME: "u" })).toThrow(/go together/);
    expect(() =>
      elasticsearchAuth({
        ...base,
        ELASTICSEARCH_USERNAME: "u",
        ELASTICSEARCH_PASSWORD: "p",
        ELASTICSEARCH_API_KEY: "k",
      }),
    ).toThrow(/not both/);
  });
});
