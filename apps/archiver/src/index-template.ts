// The archive indices' mapping, installed as an index template before the first document is
// written, so every monthly index is created with it: the envelope's fields as keywords and dates,
// and `data` as one `flattened` field — every event type's payload fits without a mapping per type,
// no payload can add fields to the mapping (no explosion), and `data.pledgeId: "…"` still searches.
import type { Client } from "@elastic/elasticsearch";

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

/** Creates or replaces the template (idempotent: every archiver start puts the same one). */
export async function putIndexTemplate(client: Client, prefix: string): Promise<void> {
  await client.indices.putIndexTemplate({ name: templateName(prefix), ...indexTemplate(prefix) });
}
