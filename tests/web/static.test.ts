// The gateway serving the web app's build: index.html at / and at any app path (history fallback),
// never cached; hashed assets immutable for a year; a missing asset, a path outside the build and
// every /api path stay 404 problems; /health and /docs are untouched; without a build configured,
// `/` is the 404 it always was.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { offlineGateway } from "../../apps/gateway/test/offline-gateway";

let dist: string;

const gateway = offlineGateway;

type App = Awaited<ReturnType<typeof gateway>>;
let app: App;
const get = (path: string) => app.handle(new Request(`http://gw.test${path}`));

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), "cfa-web-dist-"));
  mkdirSync(join(dist, "assets"));
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>CareForAll</title>");
  writeFileSync(join(dist, "assets", "index-AbC123.js"), "console.log(1)");
  writeFileSync(join(dist, "favicon.svg"), "<svg/>");
  writeFileSync(join(dist, "..", "secret.txt"), "outside the build");
  app = await gateway({ distDir: dist });
});

afterAll(() => {
  rmSync(dist, { recursive: true, force: true });
  rmSync(join(dist, "..", "secret.txt"), { force: true });
});

describe("the gateway serves the web app", () => {
  test("index.html at / and at app paths, never cached, with a CSP", async () => {
    for (const path of ["/", "/campaigns/0193e3f0-0000-7000-8000-000000000001", "/pledges/x", "/signin"]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(await res.text()).toContain("<title>CareForAll</title>");
    }
  });

  test("hashed assets are immutable for a year; other files are revalidated", async () => {
    const asset = await get("/assets/index-AbC123.js");
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(await asset.text()).toBe("console.log(1)");
    const icon = await get("/favicon.svg");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("cache-control")).toBe("no-cache");
  });

  test("a missing asset, a path out of the build and /api paths are 404 problems, not the page", async () => {
    for (const path of [
      "/assets/index-old.js",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/api/nope",
      "/api",
      "/api/campaigns/x/nope",
    ]) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(await res.text()).not.toContain("outside the build");
    }
  });

  test("the platform's own routes are untouched and the catch-all is not documented", async () => {
    const health = await get("/health");
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toContain("json");
    const doc = (await (await get("/docs/json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p === "/" || p.includes("*"))).toEqual([]);
  });

  test("without a build configured, / stays a 404 problem", async () => {
    const bare = await gateway();
    const res = await bare.handle(new Request("http://gw.test/"));
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });
});
