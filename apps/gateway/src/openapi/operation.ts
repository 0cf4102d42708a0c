// What a route says about itself in the OpenAPI document, beyond its schemas: a readable
// operationId, a summary and a description, who may call it, the headers its answers carry, and
// examples of its request and main answer. `operation()` returns the route's `detail` and records
// the rest under the operationId, where the document builder (document.ts) finds it.

import type { TSchema } from "elysia";

export type Access = "public" | "bearer" | "optional";

/** Response headers a client may read; X-Request-Id is on every answer, Retry-After on 429 and 503. */
export type ResponseHeader = "ETag" | "Idempotent-Replayed" | "Location" | "WWW-Authenticate";

export type Tag =
  | "auth"
  | "campaigns"
  | "pledges"
  | "bank"
  | "webhooks"
  | "chat"
  | "notifications"
  | "admin"
  | "operations";

export interface OperationDoc {
  /** camelCase verb first: createPledge, getCampaign. */
  id: string;
  tag: Tag;
  summary: string;
  /** Markdown: what it does, who may call it, what each refusal means. */
  description: string;
  access: Access;
  /** The body as documented, when the route validates it otherwise (a webhook takes raw text). */
  requestSchema?: TSchema;
  /** A request body a client can send as it is (Swagger UI's "Try it out" starts from it). */
  requestExample?: unknown;
  /** The main success answer, as the route returns it. */
  responseExample?: unknown;
  /** Extra headers by status. */
  headers?: Partial<Record<number, ResponseHeader[]>>;
}

export const SECURITY: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  bearer: [{ bearer: [] }],
  // Either anonymous or signed in: the empty requirement makes the token optional.
  optional: [{}, { bearer: [] }],
};

const registry = new Map<string, OperationDoc>();

/** The `detail` of a route, with its examples and headers recorded for the document. */
export function operation(doc: OperationDoc) {
  registry.set(doc.id, doc);
  return {
    operationId: doc.id,
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    security: SECURITY[doc.access],
  };
}

/** What operation() recorded for an operationId. */
export function operationDoc(id: string | undefined): OperationDoc | undefined {
  return id === undefined ? undefined : registry.get(id);
}
