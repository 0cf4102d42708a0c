// Change detection for CI: which workspace packages a diff touches, directly or through what they
// import, so a pull request tests (and a release builds) only the changed services and what
// depends on them. `bun scripts/affected.ts [base-ref]` (or `./cfa affected`) prints JSON.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..");

/** One workspace package: where it lives and which others it uses. */
export interface WorkspacePackage {
  /** "@careforall/pledge" */
  name: string;
  /** "apps/pledge" (root-relative, forward slashes) */
  dir: string;
  /** An app with src/main.ts: built into an image and released. */
  deployable: boolean;
  /** Packages its running code uses (package.json dependencies and imports outside its tests). */
  runtime: string[];
  /** Packages only its tests use (testkit, say). */
  testOnly: string[];
  /** Root-relative folders outside the workspace its files import (a test importing scripts/stack). */
  paths: string[];
}

export interface Affected {
  /** Every package is affected (a root file changed: lockfile, tsconfig, CI entry point…). */
  all: boolean;
  /** Affected apps whose tests run (names: "pledge"). */
  apps: string[];
  /** Affected libs whose tests run (names: "bus"). */
  libs: string[];
  /** Deployable apps whose image changes: what the running code uses changed. */
  images: string[];
  /** The cross-service suites (tests/: system, security, deploy, delivery) must run. */
  system: boolean;
  /** benches/ changed: its unit tests run. */
  benches: boolean;
  /** The test matrix: one entry per folder to run `bun test` in. */
  matrix: { include: Array<{ name: string; path: string }> };
}

/** Files that change nothing that runs. */
const INERT = [/^docs\//, /\.md$/i, /^LICENSE/, /^\.gitignore$/, /^\.editorconfig$/];
/** Files every package is built or tested with. */
const GLOBAL = [
  /^package\.json$/,
  /^bun\.lock$/,
  /^bunfig\.toml$/,
  /^tsconfig(\.[^/]*)?\.json$/,
  /^biome\.json$/,
  /^patches\//,
  /^cfa$/,
  /^\.ci\//,
  /^scripts\/test(-preload)?\.ts$/,
];
/** Files only the cross-service suites exercise (plus whatever package imports them: see `paths`). */
const SYSTEM = [/^tests\//, /^scripts\//, /^\.github\//, /^compose\.ya?ml$/, /^deploy\//, /^\.env\.example$/];
/** The image recipe: every image changes, the packages' tests do not. */
const IMAGE_RECIPE = [/^deploy\/docker\//];

/**
 * Dependencies no import shows: the gateway's image carries the web app's build and serves it,
 * so a change to apps/web changes the gateway.
 */
export const CARRIES: Record<string, string[]> = { "@careforall/gateway": ["@careforall/web"] };

const SOURCE = /\.(ts|tsx|js|mjs|svelte|vue)$/;
/**
 * `import … from "x"`, `export … from "x"`, `import("x")`, `import "x"`; group 1 is "type " for a
 * type-only import, which changes neither a test run nor an image (the typecheck job covers it).
 */
const IMPORT =
  /(?:^|[;\s])(?:import|export)\s+(type\s+)?[^'"`;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s+["']([^"']+)["']/g;

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (SOURCE.test(entry)) out.push(path);
  }
  return out;
}

const isTestFile = (rel: string) => /(^|\/)test\//.test(rel) || /\.test\.tsx?$/.test(rel) || /\.e2e\./.test(rel);

/** Reads the workspace graph from the root package.json's workspaces, each package.json and its imports. */
export function readWorkspace(root = ROOT): WorkspacePackage[] {
  const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] };
  const dirs: string[] = [];
  for (const pattern of rootPkg.workspaces) {
    const parent = pattern.replace(/\/\*$/, "");
    if (!existsSync(join(root, parent))) continue;
    for (const entry of readdirSync(join(root, parent)).sort())
      if (existsSync(join(root, parent, entry, "package.json"))) dirs.push(`${parent}/${entry}`);
  }
  const names = new Map(
    dirs.map((d) => [d, (JSON.parse(readFileSync(join(root, d, "package.json"), "utf8")) as { name: string }).name]),
  );
  const packages: WorkspacePackage[] = [];
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const runtime = new Set(
      Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((n) => n.startsWith("@careforall/")),
    );
    const tests = new Set(Object.keys({ ...pkg.devDependencies }).filter((n) => n.startsWith("@careforall/")));
    const paths = new Set<string>();
    for (const file of walk(join(root, dir))) {
      const rel = relative(join(root, dir), file).replaceAll("\\", "/");
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(IMPORT)) {
        if (match[1]) continue;
        const spec = (match[2] ?? match[3] ?? match[4]) as string;
        const uses = isTestFile(rel) ? tests : runtime;
        if (spec.startsWith("@careforall/")) {
          uses.add(spec.split("/").slice(0, 2).join("/"));
        } else if (spec.startsWith(".")) {
          const target = relative(root, resolve(dirname(file), spec)).replaceAll("\\", "/");
          if (target.startsWith(`${dir}/`) || target.startsWith("..")) continue;
          // Into another package's folder (the gateway reaching into chat's source): that package.
          const into = dirs.find((d) => target.startsWith(`${d}/`));
          if (into) uses.add(names.get(into) as string);
          else paths.add(`${dirname(target)}/`);
        }
      }
    }
    for (const carried of CARRIES[pkg.name] ?? []) runtime.add(carried);
    runtime.delete(pkg.name);
    tests.delete(pkg.name);
    for (const r of runtime) tests.delete(r);
    packages.push({
      name: pkg.name,
      dir,
      deployable: dir.startsWith("apps/") && existsSync(join(root, dir, "src", "main.ts")),
      runtime: [...runtime].sort(),
      testOnly: [...tests].sort(),
      paths: [...paths].sort(),
    });
  }
  return packages;
}

/** `start` and every package whose running code uses one of them, directly or through others. */
function dependents(packages: WorkspacePackage[], start: Iterable<string>): Set<string> {
  const users = new Map<string, string[]>();
  for (const p of packages) for (const dep of p.runtime) users.set(dep, [...(users.get(dep) ?? []), p.name]);
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    queue.push(...(users.get(name) ?? []));
  }
  return seen;
}

/**
 * Whose tests can see a change to `changed`: whose running code uses it (dependents), plus whose
 * tests use one of those — but not whose tests use a package only through that package's tests.
 */
function testedBy(packages: WorkspacePackage[], changed: Iterable<string>): Set<string> {
  const running = dependents(packages, changed);
  const tested = new Set(running);
  for (const p of packages) if (p.testOnly.some((t) => running.has(t))) tested.add(p.name);
  return tested;
}

const short = (p: WorkspacePackage) => p.dir.split("/").pop() as string;

/** What a set of changed files (root-relative) affects in `packages`. */
export function affected(changed: readonly string[], packages: WorkspacePackage[]): Affected {
  let all = false;
  let system = false;
  let benches = false;
  let allImages = false;
  /** Packages whose own running code changed. */
  const directRuntime = new Set<string>();
  /** Packages whose tests changed, or what their tests import from outside the workspace: their tests run, nobody else's. */
  const ownTests = new Set<string>();
  for (const file of changed) {
    if (INERT.some((r) => r.test(file))) continue;
    const owner = packages.find((p) => file.startsWith(`${p.dir}/`));
    if (owner) {
      if (isTestFile(file.slice(owner.dir.length + 1))) ownTests.add(owner.name);
      else {
        directRuntime.add(owner.name);
        system = true;
      }
      continue;
    }
    if (GLOBAL.some((r) => r.test(file))) {
      all = true;
      continue;
    }
    if (IMAGE_RECIPE.some((r) => r.test(file))) allImages = true;
    if (/^benches\//.test(file)) {
      benches = true;
      continue;
    }
    if (SYSTEM.some((r) => r.test(file))) {
      system = true;
      // A package whose files import this folder (gateway's e2e support imports scripts/) is tested again.
      for (const p of packages) if (p.paths.some((dir) => file.startsWith(dir))) ownTests.add(p.name);
      continue;
    }
    // Anything else at the root is unknown: test everything rather than miss something.
    all = true;
  }
  const tested = all ? new Set(packages.map((p) => p.name)) : testedBy(packages, directRuntime);
  for (const name of ownTests) tested.add(name);
  const built = all || allImages ? new Set(packages.map((p) => p.name)) : dependents(packages, directRuntime);
  const pick = (names: Set<string>, where: string) =>
    packages.filter((p) => names.has(p.name) && p.dir.startsWith(where)).map(short);
  const apps = pick(tested, "apps/");
  const libs = pick(tested, "libs/");
  const images = packages.filter((p) => p.deployable && built.has(p.name)).map(short);
  system = system || all;
  benches = benches || all;
  const include = [
    ...packages.filter((p) => tested.has(p.name)).map((p) => ({ name: short(p), path: p.dir })),
    ...(system ? [{ name: "system", path: "tests" }] : []),
    ...(benches ? [{ name: "benches", path: "benches" }] : []),
  ];
  return { all, apps, libs, images, system, benches, matrix: { include } };
}

/** Files changed between the merge base of `base` and HEAD, plus uncommitted ones when asked. */
export function changedFiles(base: string, cwd = ROOT): string[] {
  const diff = Bun.spawnSync(["git", "diff", "--name-only", `${base}...HEAD`], { cwd });
  if (diff.exitCode !== 0) throw new Error(`git diff ${base}...HEAD failed: ${diff.stderr.toString().trim()}`);
  return diff.stdout.toString().split("\n").filter(Boolean);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`usage: bun scripts/affected.ts [base-ref] [--all] [--files a b …]
  Prints, as JSON, what the changes since base-ref (default origin/main) affect: the apps and libs
  to test, the images to build, whether the cross-service suites run, and the CI test matrix.`);
    process.exit(0);
  }
  const filesAt = args.indexOf("--files");
  // --all: as if a root file changed (nightly runs, a push with no usable base).
  const files = args.includes("--all")
    ? ["package.json"]
    : filesAt >= 0
      ? args.slice(filesAt + 1)
      : changedFiles(args[0] ?? "origin/main");
  console.log(JSON.stringify({ changed: files.length, ...affected(files, readWorkspace()) }));
}
