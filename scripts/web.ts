// The web app's build and dev server. `ensureWebBuild()` (called by ./cfa start in both profiles and
// by the browser tests) runs Vite's build when apps/web/dist is missing or was built from other
// sources: a hash of every source file is kept beside the build. `./cfa web` runs Vite's dev server
// with hot reload, forwarding /api and /api/ws to the gateway (GATEWAY_URL, default :3000);
// `bun scripts/web.ts --budget` prints the donor pages' gzipped JavaScript against its 50 KiB budget.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./stack";

export const WEB_DIR = join(ROOT, "apps", "web");
export const WEB_DIST = join(WEB_DIR, "dist");
const STAMP = join(WEB_DIST, ".source-hash");
const SOURCES = ["src", "index.html", "vite.config.ts", "package.json", "public"];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

/** A hash of everything the build is made from (paths and contents). */
export function webSourceHash(): string {
  const hash = createHash("sha256");
  for (const file of SOURCES.flatMap((s) => files(join(WEB_DIR, s)))) {
    hash.update(relative(WEB_DIR, file));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

export function webBuildIsCurrent(): boolean {
  return (
    existsSync(join(WEB_DIST, "index.html")) && existsSync(STAMP) && readFileSync(STAMP, "utf8") === webSourceHash()
  );
}

/** Builds apps/web unless its build is current; returns whether it built. Throws with Vite's output on failure. */
export async function ensureWebBuild(say: (line: string) => void = () => {}): Promise<boolean> {
  if (webBuildIsCurrent()) return false;
  say("building the web app (apps/web changed or was never built)…");
  const hash = webSourceHash();
  const proc = Bun.spawn(["bun", "x", "vite", "build", "--logLevel", "warn"], {
    cwd: WEB_DIR,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`the web app's build failed (vite build in apps/web):\n${out}${err}`);
  writeFileSync(STAMP, hash);
  return true;
}

/** The pages a donor meets (the admin and organiser screens, added later, are not counted). */
export const DONOR_PAGES = [
  "src/pages/campaigns.tsx",
  "src/pages/campaign.tsx",
  "src/pages/receipt.tsx",
  "src/pages/auth.tsx",
];

interface ManifestChunk {
  file: string;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
  isEntry?: boolean;
}

/**
 * The JavaScript a donor can download — the entry, the donor pages and every chunk they import —
 * each file gzipped (level 9) as a server would send it, from the build's Vite manifest.
 */
export function donorBundle(): { files: { file: string; raw: number; gzip: number }[]; gzipTotal: number } {
  const manifest = JSON.parse(readFileSync(join(WEB_DIST, ".vite", "manifest.json"), "utf8")) as Record<
    string,
    ManifestChunk
  >;
  const wanted = new Set<string>();
  const visit = (key: string) => {
    if (wanted.has(key) || !manifest[key]) return;
    wanted.add(key);
    for (const next of manifest[key]?.imports ?? []) visit(next);
  };
  visit("index.html");
  if (!manifest["index.html"]) throw new Error("the build's manifest has no entry (index.html)");
  // A donor page is either in the entry chunk or a lazy chunk of its own: both count.
  for (const page of DONOR_PAGES) visit(page);
  const files = [...wanted].map((key) => {
    const file = manifest[key]?.file as string;
    const bytes = readFileSync(join(WEB_DIST, file));
    return { file, raw: bytes.length, gzip: Bun.gzipSync(bytes, { level: 9 }).length };
  });
  return { files, gzipTotal: files.reduce((n, f) => n + f.gzip, 0) };
}

if (import.meta.main && process.argv[2] === "--budget") {
  await ensureWebBuild((line) => console.log(line));
  const { files, gzipTotal } = donorBundle();
  for (const f of files)
    console.log(`${f.file.padEnd(40)} ${String(f.raw).padStart(8)} B  ${String(f.gzip).padStart(7)} B gz`);
  console.log(`donor pages' JavaScript: ${(gzipTotal / 1024).toFixed(1)} KiB gzipped (budget 50 KiB)`);
  process.exit(gzipTotal <= 50 * 1024 ? 0 : 1);
}

if (import.meta.main && process.argv[2] !== "--budget") {
  const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:3000";
  console.log(`[cfa] Vite dev server for apps/web; /api and /api/ws go to ${gateway} (start it with ./cfa start)`);
  const proc = Bun.spawn(["bun", "x", "vite", ...process.argv.slice(2)], {
    cwd: WEB_DIR,
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, GATEWAY_URL: gateway },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => proc.kill(signal));
  process.exit(await proc.exited);
}
