// Cache-Control walked over every route the gateway serves (in process, nothing behind it, so most
// answers are errors — which must carry it too): every answer is `no-store` except the public
// reads (GET with `access: "public"`), with and without a token, for any method a route has.
import { beforeAll, describe, expect, test } from "bun:test";
import { publicReads } from "../src/cache-control";
import { offlineGateway } from "./offline-gateway";

let app: Awaited<ReturnType<typeof offlineGateway>>;
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const ID = "0193e3f0-0000-7000-8000-000000000000";

beforeAll(async () => {
  app = await offlineGateway();
});

const served = () => app.routes.filter((r) => METHODS.includes(r.method));
const concrete = (path: string) => path.replace(/:[^/]+/g, ID).replace(/\*$/, "x");

function send(method: string, path: string, headers: Record<string, string> = {}) {
  const hasBody = method !== "GET" && method !== "DELETE";
  return app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: { ...(hasBody ? { "content-type": "application/json" } : {}), ...headers },
      ...(hasBody ? { body: "{}" } : {}),
    }),
  );
}

describe("Cache-Control: no-store", () => {
  test("the public reads are exactly the campaign reads (a new public GET shows up here)", () => {
    expect([...publicReads(app.routes)].sort()).toEqual([
      "GET /api/campaigns",
      "GET /api/campaigns/:id",
      "GET /api/campaigns/:id/donations",
    ]);
  });

  test("every other route's answer says no-store, errors included, with or without credentials", async () => {
    const cacheable = publicReads(app.routes);
    const checked: string[] = [];
    for (const route of served()) {
      if (cacheable.has(`${route.method} ${route.path}`)) continue;
      const variants: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer not-a-token" },
        { "x-receipt-token": "not-a-receipt", "idempotency-key": "k1" },
      ];
      for (const headers of variants) {
        const res = await send(route.method, concrete(route.path), headers);
        expect({
          route: `${route.method} ${route.path}`,
          status: res.status,
          cc: res.headers.get("cache-control"),
        }).toMatchObject({ cc: expect.stringContaining("no-store") });
      }
      checked.push(`${route.method} ${route.path}`);
    }
    // The personal routes the issue names are among them.
    for (const route of [
      "POST /api/auth/register",
      "POST /api/auth/login",
      "POST /api/auth/refresh",
      "POST /api/auth/logout",
      "GET /api/me",
      "GET /api/me/pledges",
      "GET /api/me/bank",
      "GET /api/pledges/:id",
      "POST /api/campaigns/:id/pledges",
      "GET /api/admin/audit",
      "POST /api/bank/demo-accounts",
    ]) {
      expect(checked).toContain(route);
    }
  });

  test("an unknown route and a malformed body say no-store too", async () => {
    expect((await send("GET", "/api/nothing-here")).headers.get("cache-control")).toBe("no-store");
    const malformed = await app.handle(
      new Request("http://localhost/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      }),
    );
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("cache-control")).toBe("no-store");
  });

  test("the public reads are left cacheable (no no-store), answered or not", async () => {
    for (const key of publicReads(app.routes)) {
      const [method, path] = key.split(" ") as [string, string];
      const res = await send(method, concrete(path));
      expect({ key, cc: res.headers.get("cache-control") }).toEqual({ key, cc: null });
    }
  });
});
