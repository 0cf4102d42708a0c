// The archive indices' mapping, installed as an index template before the first document is
// written, so every monthly index is created with it: the envelope's fields as keywords and dates,
// and `data` as one `flattened` field — every event type's payload fits without a mapping per type,
// no payload can add fields to the mapping (no explosion), and `data.pledgeId: "…"` still searches.
// The archiver also puts the template of the shipped logs (deploy/fluent-bit), being the one part
// of the platform that talks to Elasticsearch: the correlation ids as keywords, and a value that
// does not fit its field's type ignored rather than the whole line refused.
import type { Client } from "@elastic/elasticsearch";

/** deploy/fluent-bit's logstash_prefix: daily log indices `careforall-logs-YYYY.MM.DD`. */
export const LOGS_INDEX_PREFIX = "careforall-logs";

export function templateName(prefix: string): string {
  return prefix;
}

export function indexTemplate(prefix: string) {
  return {
    index_patterns: [`${prefix}-*`],
    // Above the priority 0 of any catch-all template an operator may have.
    priority: 200,
    template: {
      mappings: {
        // Fields not listed stay in _source but are not indexed: an event cannot change the mapping.
        dynamic: false as const,
        properties: {
          "@timestamp": { type: "date" as const },
          id: { type: "keyword" as const },
          type: { type: "keyword" as const },
          family: { type: "keyword" as const },
          aggregateId: { type: "keyword" as const },
          occurredAt: { type: "date" as const },
          traceId: { type: "keyword" as const },
          requestId: { type: "keyword" as const },
          data: { type: "flattened" as const },
        },
      },
    },
    _meta: { description: "CareForAll domain events, one document per event id (apps/archiver)" },
  };
}

export function logsIndexTemplate() {
  const keyword = { type: "keyword" as const };
  return {
    index_patterns: [`${LOGS_INDEX_PREFIX}-*`],
    // Not the archive's priority: two templates of equal priority may not overlap.
    priority: 201,
    template: {
      // A field logged as a number by one line and as text by another loses that value only.
      settings: { "index.mapping.ignore_malformed": true },
      mappings: {
        properties: {
          "@timestamp": { type: "date" as const },
          time: { type: "date" as const },
          level: keyword,
          service: keyword,
          requestId: keyword,
          traceId: keyword,
          spanId: keyword,
          eventId: keyword,
          msg: { type: "text" as const, fields: { keyword: { type: "keyword" as const, ignore_above: 256 } } },
        },
      },
    },
    _meta: { description: "CareForAll service logs shipped by Fluent Bit (deploy/fluent-bit)" },
  };
}

/** Creates or replaces both templates (idempotent: every archiver start puts the same ones). */
export async function putIndexTemplates(client: Client, prefix: string): Promise<void> {
  await client.indices.putIndexTemplate({ name: templateName(prefix), ...indexTemplate(prefix) });
  await client.indices.putIndexTemplate({ name: LOGS_INDEX_PREFIX, ...logsIndexTemplate() });
}
