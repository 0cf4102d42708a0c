// The OpenAPI document, read as an API consumer and as their tools read it: a validator and a
// linter accept it; every route the gateway serves is in it with its body, parameters and answers;
// every operation has a readable id, a description, its security and examples that are true (each
// example passes the route's own schema); errors are problem+json; the internal headers stay out.
import { beforeAll, describe, expect, test } from "bun:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "elysia";
import { operationDoc } from "../src/openapi/operation";
import { offlineGateway } from "./offline-gateway";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked freely by the assertions
type Json = Record<string, any>;
let app: Awaited<ReturnType<typeof offlineGateway>>;
let doc: Json;
const METHODS = ["get", "post", "put", "patch", "delete"];

beforeAll(async () => {
  app = await offlineGateway();
  const res = await app.handle(new Request("http://localhost/docs/json"));
  expect(res.status).toBe(200);
  doc = (await res.json()) as Json;
});

/** The routes a client can call, as the app serves them. */
const served = () =>
  app.routes.filter((r) => METHODS.includes(r.method.toLowerCase()) && !(r.hooks as Json | undefined)?.detail?.hide);
const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })),
  );
const docPath = (path: string) => path.replace(/:([^/]+)/g, "{$1}");

describe("/docs/json", () => {
  test("is valid OpenAPI 3.1 (swagger-parser)", async () => {
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  test("lints clean with Redocly's recommended rules (the engine of @redocly/cli lint): zero errors", async () => {
    const config = await createConfig({ extends: ["recommended"] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: "openapi.json", config });
    const errors = problems
      .filter((p) => p.severity === "error")
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
  });

  test("has every route the gateway serves, with its method, and nothing else", () => {
    const routes = served()
      .map((r) => `${r.method.toUpperCase()} ${docPath(r.path)}`)
      .sort();
    const documented = operations()
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .sort();
    expect(documented).toEqual(routes);
    expect(routes.length).toBeGreaterThanOrEqual(26);
  });

  test("every route that takes a body documents it: a non-empty schema and an example that passes the route's own schema", () => {
    const withBody = served().filter((r) => (r.hooks as Json).body);
    expect(withBody.length).toBeGreaterThanOrEqual(9);
    for (const route of withBody) {
      const op = doc.paths[docPath(route.path)][route.method.toLowerCase()];
      const media = op.requestBody?.content?.["application/json"];
      const where = `${route.method} ${route.path}`;
      expect({ where, hasSchema: Boolean(media?.schema) }).toEqual({ where, hasSchema: true });
      const schema = media.schema as Json;
      const shape = schema.properties ?? schema.anyOf ?? schema.oneOf ?? schema.$ref;
      expect({ where, shape: Boolean(shape) }).toEqual({ where, shape: true });
      expect({ where, example: media.example !== undefined }).toEqual({ where, example: true });
      const own = (operationDoc(op.operationId)?.requestSchema ?? (route.hooks as Json).body) as TSchema;
      expect({ where, valid: Value.Check(own, media.example) }).toEqual({ where, valid: true });
    }
  });

  test("every operation: a readable unique operationId, a summary, a description and its security", () => {
    const ids = new Set<string>();
    for (const { path, method, op } of operations()) {
      const where = `${method} ${path}`;
      expect({ where, id: /^[a-z][a-zA-Z]+$/.test(op.operationId ?? "") }).toEqual({ where, id: true });
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      expect({ where, summary: (op.summary ?? "").length > 5 }).toEqual({ where, summary: true });
      expect({ where, description: (op.description ?? "").length >= 20 }).toEqual({ where, description: true });
      expect({ where, security: Array.isArray(op.security) }).toEqual({ where, security: true });
      expect(op.tags?.length).toBe(1);
    }
    expect(ids).toContain("createPledge");
    expect(ids).toContain("getCampaign");
  });

  test("public operations say so (security: []); signed-in ones ask for the bearer token", () => {
    const byId = new Map(operations().map((o) => [o.op.operationId, o.op]));
    expect(byId.get("listCampaigns")?.security).toEqual([]);
    expect(byId.get("createCampaign")?.security).toEqual([{ bearer: [] }]);
    expect(byId.get("createPledge")?.security).toEqual([{}, { bearer: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test("every main answer has an example that passes the route's own response schema", () => {
    for (const route of served()) {
      const op = doc.paths[docPath(route.path)][route.method.toLowerCase()];
      const where = `${route.method} ${route.path}`;
      const response = (route.hooks as Json).response as Json | undefined;
      if (!response || !route.path.startsWith("/api/")) continue;
      const success = Object.keys(response)
        .map(Number)
        .filter((s) => s >= 200 && s < 300)
        .sort()[0];
      if (success === undefined || success === 204) continue;
      const example = op.responses[String(success)]?.content?.["application/json"]?.example;
      expect({ where, example: example !== undefined }).toEqual({ where, example: true });
      expect({ where, valid: Value.Check(response[success] as TSchema, example) }).toEqual({ where, valid: true });
    }
  });

  test("errors are problem+json with the shared Problem; every answer names X-Request-Id; 429 and 503 Retry-After", () => {
    for (const { path, method, op } of operations())
      for (const [status, answer] of Object.entries(op.responses as Json)) {
        const where = `${method} ${path} ${status}`;
        expect({ where, id: Boolean(answer.headers?.["X-Request-Id"]) }).toEqual({ where, id: true });
        if (Number(status) >= 400 && op.tags[0] !== "operations")
          expect({ where, content: answer.content }).toEqual({
            where,
            content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
          });
        if (status === "429" || status === "503")
          expect({ where, retry: Boolean(answer.headers["Retry-After"]) }).toEqual({ where, retry: true });
      }
    expect(doc.components.schemas.Problem.properties).toHaveProperty("status");
  });

  test("204 and 304 carry no content; the campaign read names its ETag; a pledge its Idempotent-Replayed", () => {
    const byId = new Map(operations().map((o) => [o.op.operationId, o.op]));
    expect(byId.get("logout")?.responses["204"].content).toBeUndefined();
    const read = byId.get("getCampaign");
    expect(read?.responses["304"].content).toBeUndefined();
    expect(read?.responses["200"].headers).toHaveProperty("ETag");
    expect(read?.parameters).toContainEqual(expect.objectContaining({ name: "if-none-match", in: "header" }));
    expect(byId.get("createPledge")?.responses["202"].headers).toHaveProperty("Idempotent-Replayed");
    expect(byId.get("createPledge")?.responses["202"].headers).toHaveProperty("Location");
    expect(byId.get("createCampaign")?.responses["201"].headers).toHaveProperty("Location");
  });

  test("the shared models are named once and referenced; internal headers are not public parameters", () => {
    const text = JSON.stringify(doc.paths);
    for (const name of ["Campaign", "Pledge", "Session", "CampaignPage"])
      expect(text).toContain(`"#/components/schemas/${name}"`);
    const params = operations().flatMap((o) => (o.op.parameters ?? []) as Json[]);
    expect(params.filter((p) => /^x-donor-/i.test(p.name) || /^authorization$/i.test(p.name))).toEqual([]);
    const key = params.find((p) => p.name === "idempotency-key");
    expect(key).toMatchObject({ in: "header", required: true });
    expect(String(key?.description)).toContain("retries");
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
  });
});

describe("/docs", () => {
  test("/docs and /docs/ both serve the Swagger UI page, which loads the document from /docs/json", async () => {
    for (const path of ["/docs", "/docs/"]) {
      const res = await app.handle(new Request(`http://localhost${path}`));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(await res.text()).toContain('src="/docs/assets/init.js"');
    }
    const init = await app.handle(new Request("http://localhost/docs/assets/init.js"));
    expect(await init.text()).toContain('url: "/docs/json"');
  });
});
