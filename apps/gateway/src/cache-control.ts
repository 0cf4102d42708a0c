// Personal answers are never stored: every gateway answer says `Cache-Control: no-store` — errors,
// 404s and routes added tomorrow included — except the public reads, which a route declares by
// being a GET whose operation() says `access: "public"` (the same metadata that puts
// `security: []` on it in the OpenAPI document). Forgetting to declare costs a cache miss, never a
// leak. The hot campaign read is mounted outside Elysia (main.ts) and sets its own headers.
import { Elysia } from "elysia";
import type { RouteLike } from "./openapi/document";
import { operationDoc } from "./openapi/operation";

export const NO_STORE = "no-store";

/** `GET /api/campaigns/:id`-style keys of the routes whose answers are the same for everyone. */
export function publicReads(routes: readonly RouteLike[]): Set<string> {
  const keys = new Set<string>();
  for (const route of routes) {
    if (route.method !== "GET") continue;
    const detail = route.hooks?.detail as { operationId?: string } | undefined;
    if (operationDoc(detail?.operationId)?.access === "public") keys.add(`GET ${route.path}`);
  }
  return keys;
}

/** Mount right after httpKit; `table` is the app's route table, filled in once the app is built. */
export function cacheControl(table: { routes: readonly RouteLike[] }) {
  let cacheable: Set<string> | undefined;
  return (
    new Elysia({ name: "gateway-cache-control" })
      // Before anything can fail, so validation errors, 401s and 404s carry it too.
      .onRequest(({ set }) => {
        set.headers["cache-control"] = NO_STORE;
      })
      .onBeforeHandle({ as: "global" }, ({ request, route, set }) => {
        cacheable ??= publicReads(table.routes);
        const method = request.method === "HEAD" ? "GET" : request.method;
        if (cacheable.has(`${method} ${route}`) && set.headers["cache-control"] === NO_STORE)
          delete set.headers["cache-control"];
      })
  );
}
