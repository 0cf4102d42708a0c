// Pure rules of the archive: which index an event lands in, what its document looks like, and
// what an Elasticsearch status means for it (accepted, worth retrying, or never going to fit).
// Invariant: the document id is the event id, and the index depends on the event alone (its
// occurredAt), so every delivery of an event writes the same document in the same place.
import type { EventEnvelope } from "@careforall/bus";
import { REQUEST_ID_HEADER, traceIdOf as traceIdOfTraceparent } from "@careforall/telemetry";

/** The document one event becomes. `data` is mapped `flattened`: any event shape fits (index-template.ts). */
export interface EventDocument {
  /** occurredAt when it is an ISO-8601 time (what Elasticsearch's date fields take), else absent. */
  "@timestamp"?: string;
  id: string;
  type: string;
  /** The aggregate family: `pledge` for `pledge.captured`. */
  family: string;
  aggregateId: string;
  occurredAt?: string;
  /** An occurredAt that is no ISO-8601 time, kept as it came (unindexed) instead of refused by a date field. */
  occurredAtText?: string;
  data: unknown;
  /** From the message's `traceparent`: the trace of the request that caused the event. */
  traceId?: string;
  /** From the message's `x-request-id`: the request that caused the event. */
  requestId?: string;
}

/** Where an event without a usable occurredAt goes (still under its id: redeliveries land on it again). */
export const UNDATED = "undated";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The UTC time of an ISO-8601 timestamp with a zone (as envelopes carry), or undefined for anything else. */
function isoTime(value: unknown): Date | undefined {
  if (typeof value !== "string" || !ISO_TIME.test(value)) return undefined;
  const date = new Date(value);
  const year = date.getUTCFullYear();
  return Number.isFinite(date.getTime()) && year >= 1000 && year <= 9999 ? date : undefined;
}

/** `careforall-events` + 2026-12-04T… → `careforall-events-2026.12` (UTC month of occurredAt). */
export function archiveIndex(prefix: string, occurredAt: unknown): string {
  const date = isoTime(occurredAt);
  if (!date) return `${prefix}-${UNDATED}`;
  return `${prefix}-${date.getUTCFullYear()}.${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

/**
 * The trace id of a W3C traceparent header (telemetry's reading, forgiving of case and spaces
 * around it: the archive keeps what it can); undefined for none, a malformed one, or the all-zero id.
 */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceIdOfTraceparent(traceparent?.trim().toLowerCase());
}

/** The document for `event` as delivered with `headers`; the same event always gives the same document. */
export function toDocument(event: EventEnvelope, headers: Record<string, string>): EventDocument {
  const dated = isoTime(event.occurredAt) !== undefined;
  const doc: EventDocument = {
    ...(dated ? { "@timestamp": event.occurredAt } : {}),
    id: event.id,
    type: event.type,
    family: event.type.split(".")[0] ?? event.type,
    aggregateId: event.aggregateId,
    ...(dated ? { occurredAt: event.occurredAt } : { occurredAtText: String(event.occurredAt) }),
    data: event.data,
  };
  const traceId = traceIdOf(headers.traceparent);
  if (traceId) doc.traceId = traceId;
  const requestId = headers[REQUEST_ID_HEADER];
  if (requestId) doc.requestId = requestId;
  return doc;
}

/** What happened to one document of a bulk request. */
export type Outcome =
  | { kind: "indexed" }
  /** Not accepted now (429, 5xx, a request that failed or never left): the event goes back to the bus. */
  | { kind: "retry"; status: number; reason: string }
  /** Refused for what it is (a mapping error, 4xx other than 429): retrying cannot help. */
  | { kind: "dead_letter"; status: number; reason: string };

/**
 * How a per-document status is treated. 429 (too many requests) and 5xx (a shard unavailable,
 * the node overloaded) are Elasticsearch's state, not the document's: retried. Any other 4xx is the
 * document's own (mapper_parsing_exception, illegal_argument_exception…): dead-lettered.
 * Status 0 means no answer at all: retried.
 */
export function classify(status: number, reason: string): Outcome {
  if (status >= 200 && status < 300) return { kind: "indexed" };
  if (status === 0 || status === 429 || status >= 500) return { kind: "retry", status, reason };
  return { kind: "dead_letter", status, reason };
}
