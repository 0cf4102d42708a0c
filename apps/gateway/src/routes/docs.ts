// OpenAPI 3.1 generated from every route's schemas: Swagger UI at /docs, the document at
// /docs/json. The UI's script and stylesheet are served from the installed swagger-ui-dist
// package, so the docs work without internet access.
import { dirname, join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";

const assets = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const ASSET_FILES = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]);

export function docsRoutes() {
  return new Elysia({ name: "gateway-docs" })
    .get(
      "/docs/assets/:file",
      ({ params, set }) => {
        if (!ASSET_FILES.has(params.file)) {
          set.status = 404;
          return "not found";
        }
        set.headers["cache-control"] = "public, max-age=86400";
        return Bun.file(join(assets, params.file));
      },
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: "/docs",
        provider: "swagger-ui",
        swagger: { cdn: "/docs/assets/swagger-ui-bundle.js", theme: "/docs/assets/swagger-ui.css" } as never,
        exclude: { paths: [/^\/docs/] },
        documentation: {
          info: {
            title: "CareForAll API",
            version: "1.0.0",
            description:
              "The public contract of the CareForAll donation platform. Errors are RFC 9457 problem+json; " +
              "money is integer minor units; ids are UUIDv7.",
          },
          tags: [
            { name: "auth", description: "Accounts and sessions" },
            { name: "campaigns", description: "Fundraising campaigns" },
            { name: "pledges", description: "Donations, idempotent by Idempotency-Key" },
            { name: "bank", description: "The simulated bank: demo accounts and balances" },
            { name: "webhooks", description: "Signed callbacks from the bank" },
            { name: "admin", description: "Administration: pledges by status, money audit, chaos knobs" },
            { name: "operations", description: "Health, readiness and metrics" },
          ],
          components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
          },
        },
      }),
    );
}
