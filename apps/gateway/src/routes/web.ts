// The web app (apps/web's Vite build) at `/`: hashed files under /assets are immutable for a year,
// index.html is never cached (it names the current hashes), and any other GET that is not the API
// and does not look like a file gets index.html, so the app's own routes survive a reload. /api/*,
// /docs, /health, /ready and /metrics are matched before this catch-all, and the hot campaign read
// is a native Bun route that never reaches the framework: none of them is slowed or changed.
import { existsSync, statSync } from "node:fs";
import { join, normalize, sep } from "node:path";
import { notFound } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { Elysia } from "elysia";

export const IMMUTABLE = "public, max-age=31536000, immutable";
export const NO_CACHE = "no-cache";
// The app's document: its own scripts and styles only, the API and its socket on this origin.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

export interface WebOptions {
  /** apps/web/dist: the build, with index.html and assets/. */
  distDir: string;
  log: Logger;
}

/** True when `dir` holds a build (its index.html). */
export function hasWebBuild(dir: string): boolean {
  return existsSync(join(dir, "index.html"));
}

export function webRoutes({ distDir, log }: WebOptions) {
  const root = normalize(distDir);
  const index = join(root, "index.html");
  if (!hasWebBuild(root)) log.warn({ distDir: root }, "web.not_built: / answers 404 until apps/web is built");

  const page = (set: { headers: Record<string, string | number> }) => {
    if (!existsSync(index)) throw notFound("The web app is not built: run `./cfa start` (it builds apps/web)");
    set.headers["cache-control"] = NO_CACHE;
    set.headers["content-security-policy"] = CSP;
    set.headers["content-type"] = "text/html; charset=utf-8";
    return Bun.file(index);
  };

  return new Elysia({ name: "gateway-web" })
    .get("/", ({ set }) => page(set), { detail: { hide: true } })
    .get(
      "/*",
      ({ path, set }) => {
        // The API keeps its own 404 problem: never the app's page for a mistyped endpoint.
        if (path === "/api" || path.startsWith("/api/")) throw notFound(`No route ${path}`);
        const file = normalize(join(root, decodeURIComponent(path)));
        if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) {
          set.headers["cache-control"] = path.startsWith("/assets/") ? IMMUTABLE : NO_CACHE;
          return Bun.file(file);
        }
        // A missing file (an old chunk, a typo) is a 404, not the page served as script.
        if (/\.[a-z0-9]+$/i.test(path)) throw notFound(`No file ${path}`);
        return page(set);
      },
      { detail: { hide: true } },
    );
}
