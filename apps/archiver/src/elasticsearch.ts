// The official Elasticsearch client as the archiver uses it. The 8.x client talks to Elasticsearch
// 8 and, forward compatible, 9 (a 9.x client refuses an 8 server). Its node:http connection, not
// the default undici one, which fails under Bun (no response headers come back).
import { Client, HttpConnection } from "@elastic/elasticsearch";
import type { ArchiverConfig } from "./config";

export type ElasticsearchSettings = Pick<
  ArchiverConfig,
  | "ELASTICSEARCH_URL"
  | "ELASTICSEARCH_USERNAME"
  | "ELASTICSEARCH_PASSWORD"
  | "ELASTICSEARCH_API_KEY"
  | "ELASTICSEARCH_TIMEOUT_MS"
  | "ELASTICSEARCH_MAX_RETRIES"
>;

/** Throws on credentials that cannot be right (half a user/password pair, or both kinds at once). */
export function elasticsearchAuth(settings: ElasticsearchSettings) {
  const {
    ELASTICSEARCH_USERNAME: username,
    ELASTICSEARCH_PASSWORD: password,
    ELASTICSEARCH_API_KEY: apiKey,
  } = settings;
  if ((username === undefined) !== (password === undefined))
    throw new Error("ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD go together: set both or neither");
  if (apiKey !== undefined && username !== undefined)
    throw new Error("set ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/PASSWORD, not both");
  if (apiKey !== undefined) return { apiKey };
  if (username !== undefined && password !== undefined) return { username, password };
  return undefined;
}

export function createElasticsearchClient(settings: ElasticsearchSettings): Client {
  const auth = elasticsearchAuth(settings);
  return new Client({
    node: settings.ELASTICSEARCH_URL,
    ...(auth ? { auth } : {}),
    Connection: HttpConnection,
    requestTimeout: settings.ELASTICSEARCH_TIMEOUT_MS,
    // Immediate re-sends on 502/503/504 and lost connections; longer outages are the bus's backoff.
    maxRetries: settings.ELASTICSEARCH_MAX_RETRIES,
  });
}

/** The HTTP status of a failed client call; 0 when there was no answer (refused, reset, timed out). */
export function statusOf(err: unknown): number {
  const status = (err as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode;
  return typeof status === "number" ? status : 0;
}

/** A short reason for a failed call or a refused document, for logs and the retry's error. */
export function reasonOf(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { type?: unknown; reason?: unknown; name?: unknown; message?: unknown };
    if (typeof e.type === "string") return typeof e.reason === "string" ? `${e.type}: ${e.reason}` : e.type;
    if (typeof e.message === "string") return `${typeof e.name === "string" ? `${e.name}: ` : ""}${e.message}`;
  }
  return String(err);
}
