// The gateway's OpenAPI 3.1 document, built from its own route table: every route's params, query,
// headers, body and response schemas as declared (the single source of truth, so the document
// cannot drift from what is validated), plus what operation() recorded — descriptions, security,
// examples and response headers. Errors are problem+json with one shared Problem schema; the
// shared models appear once, under components.schemas.
import { Problem } from "@careforall/http";
import type { TSchema } from "elysia";
import { operationDoc, type ResponseHeader } from "./operation";

/** A route as Elysia lists it in `app.routes`. */
export interface RouteLike {
  method: string;
  path: string;
  hooks?: Record<string, unknown>;
}

export interface DocumentOptions {
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string; description: string }>;
  /** Schemas shown once under components.schemas and referenced wherever they appear. */
  named: Record<string, TSchema>;
}

type Json = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted: the work continues in the background",
  204: "Done; no body",
  304: "Not modified: the ETag sent in If-None-Match is still current",
  400: "Invalid request: `errors` names each field and what it expects",
  401: "Not signed in, or the access token is invalid or expired",
  402: "The bank refused the payment source",
  403: "Signed in, but not allowed to do this",
  404: "Not found (or not yours to see)",
  409: "Conflicts with the current state",
  413: "The body is over 64 KiB",
  422: "Understood, but cannot be done as asked",
  429: "Too many requests: wait for Retry-After seconds",
  503: "A service this request needs is unavailable: retry after Retry-After seconds",
};

const HEADERS: Record<"X-Request-Id" | "Retry-After" | ResponseHeader, Json> = {
  "X-Request-Id": {
    description:
      "This request's id: the client's own X-Request-Id when it sent a valid one (1–128 of `A-Za-z0-9_.:-`), " +
      "else a new one. Every log line the request caused, in every service, carries it: quote it in support requests.",
    schema: { type: "string", examples: ["9f2c4e1ab7d0-1842"] },
  },
  "Retry-After": {
    description: "Seconds to wait before trying again (the same request, with the same Idempotency-Key).",
    schema: { type: "integer", minimum: 1, examples: [2] },
  },
  ETag: {
    description: 'The campaign snapshot\'s version, `"v<version>"`: send it back as If-None-Match to get a 304.',
    schema: { type: "string", examples: ['"v12"'] },
  },
  "Idempotent-Replayed": {
    description: "`true` when this is the stored answer of an earlier request with the same Idempotency-Key.",
    schema: { type: "string", enum: ["true"] },
  },
  Location: {
    description: "Where the created resource lives (for a 202: where to follow it).",
    schema: { type: "string", examples: ["/api/pledges/01938f30-1c2d-7e4f-8a5b-6c7d8e9f0a11"] },
  },
  "WWW-Authenticate": {
    description: "The bearer challenge (RFC 6750), with the reason the token was refused.",
    schema: { type: "string", examples: ['Bearer error="invalid_token"'] },
  },
};

/** A TypeBox schema as plain JSON Schema (TypeBox keeps its metadata under symbols). */
const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema ?? {}));

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

function isVoid(schema: Json): boolean {
  return schema.type === "void" || schema.type === "undefined" || schema.type === "null";
}

/** The properties of an object schema as OpenAPI parameters. */
function parameters(schema: unknown, where: "path" | "query" | "header"): Json[] {
  if (!schema) return [];
  const s = plain(schema);
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries((s.properties as Record<string, Json> | undefined) ?? {})
    .filter(([name]) => !(where === "header" && name.toLowerCase() === "authorization"))
    .map(([name, property]) => {
      const { description, ...rest } = property;
      return {
        name,
        in: where,
        required: where === "path" || required.has(name),
        ...(typeof description === "string" ? { description } : {}),
        schema: rest,
      };
    });
}

/** The declared responses as status → schema (Elysia allows one schema for 200). */
function declaredResponses(response: unknown): Array<[number, Json]> {
  if (!response) return [];
  const r = response as Json;
  const isMap = typeof r === "object" && !("type" in r) && !("anyOf" in r) && !("$ref" in r);
  const entries: Array<[string, unknown]> = isMap ? Object.entries(r) : [["200", r]];
  return entries.map(([status, schema]) => [Number(status), plain(schema)] as [number, Json]);
}

const problemJson = JSON.stringify(plain(Problem));

function operationFor(route: RouteLike): Json {
  const hooks = (route.hooks ?? {}) as Record<string, unknown>;
  const detail = (hooks.detail ?? {}) as Json;
  const doc = operationDoc(detail.operationId as string | undefined);
  const bodySchema = doc?.requestSchema ?? hooks.body;
  const hasBody = Boolean(bodySchema);
  const parameterList = [
    ...parameters(hooks.params, "path"),
    ...parameters(hooks.query, "query"),
    ...parameters(hooks.headers, "header"),
  ];

  const declared = declaredResponses(hooks.response);
  const statuses = new Set(declared.map(([status]) => status));
  // Answers any route can give, whether or not the route declared them.
  const implied: Array<[number, Json]> = [];
  if ((parameterList.length > 0 || hasBody) && !statuses.has(400)) implied.push([400, {}]);
  if (hasBody && !statuses.has(413)) implied.push([413, {}]);
  if (route.path.startsWith("/api/") && !statuses.has(503)) implied.push([503, {}]);
  const all = [...declared, ...implied].sort(([a], [b]) => a - b);
  const mainSuccess = all.find(([status]) => status >= 200 && status < 300)?.[0];

  const responses: Json = {};
  for (const [status, schema] of all) {
    const headers: Json = { "X-Request-Id": headerRef("X-Request-Id") };
    if (status === 429 || status === 503) headers["Retry-After"] = headerRef("Retry-After");
    if (status === 401) headers["WWW-Authenticate"] = headerRef("WWW-Authenticate");
    for (const name of doc?.headers?.[status] ?? []) headers[name] = headerRef(name);
    const { description, ...body } = schema;
    const answer: Json = {
      description: typeof description === "string" ? description : (STATUS_TEXT[status] ?? "Answer"),
      headers,
    };
    // An error is a problem, unless the route declares its own body for it (/ready's 503).
    const problem = status >= 400 && (Object.keys(schema).length === 0 || JSON.stringify(schema) === problemJson);
    if (problem) answer.content = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
    else if (status !== 204 && status !== 304 && !isVoid(body))
      answer.content = {
        [body.type === "string" ? "text/plain" : "application/json"]: {
          schema: body,
          ...(status === mainSuccess && doc?.responseExample !== undefined ? { example: doc.responseExample } : {}),
        },
      };
    responses[String(status)] = answer;
  }

  const body = hasBody ? plain(bodySchema) : undefined;
  return {
    operationId: detail.operationId,
    summary: detail.summary,
    description: detail.description,
    tags: detail.tags,
    security: detail.security ?? [],
    ...(parameterList.length > 0 ? { parameters: parameterList } : {}),
    ...(body
      ? {
          requestBody: {
            required: true,
            ...(typeof body.description === "string" ? { description: body.description } : {}),
            content: {
              "application/json": {
                schema: body,
                ...(doc?.requestExample !== undefined ? { example: doc.requestExample } : {}),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** Replaces every inline copy of a named schema with a $ref to it. */
function hoist(node: unknown, byJson: Map<string, string>): unknown {
  if (Array.isArray(node)) return node.map((item) => hoist(item, byJson));
  if (node === null || typeof node !== "object") return node;
  const name = byJson.get(JSON.stringify(node));
  if (name) return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "example" ? v : hoist(v, byJson)]));
}

export function buildOpenApiDocument(routes: readonly RouteLike[], options: DocumentOptions): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const detail = (route.hooks?.detail ?? {}) as Json;
    if (detail.hide) continue;
    const method = route.method.toLowerCase();
    if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
    const path = route.path.replace(/:([^/]+)/g, "{$1}");
    paths[path] = { ...paths[path], [method]: operationFor(route) };
  }
  const schemas = Object.fromEntries(Object.entries(options.named).map(([name, schema]) => [name, plain(schema)]));
  const byJson = new Map(Object.entries(schemas).map(([name, schema]) => [JSON.stringify(schema), name]));
  // A named schema may contain another (a page holds items): hoist inside them too, but never a
  // schema into a reference to itself.
  const hoistedSchemas = Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => [
      name,
      Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, hoist(v, byJson)])),
    ]),
  );
  return {
    openapi: "3.1.0",
    info: options.info,
    servers: [{ url: "/", description: "This gateway (the platform's only public origin)" }],
    tags: options.tags,
    paths: hoist(paths, byJson),
    components: {
      schemas: hoistedSchemas,
      headers: HEADERS,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The accessToken from POST /api/auth/register or /api/auth/login (15 minutes).",
        },
      },
    },
  };
}
