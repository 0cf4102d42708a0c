// Per-service semantic versions from conventional commits: each deployable app is released on its
// own, tagged `<app>@x.y.z`. A commit counts for an app when its scope names the app or when it
// changes a file the app's image is built from (its folder, a lib it uses, the image recipe:
// scripts/affected.ts decides); the bump is the largest any of them asks for. See docs/operating/delivery.md.
import { join } from "node:path";
import { affected, readWorkspace, type WorkspacePackage } from "./affected";

const ROOT = join(import.meta.dir, "..");

export type Bump = "major" | "minor" | "patch";

export interface Commit {
  hash: string;
  subject: string;
  body: string;
  files: string[];
}

export interface ParsedCommit extends Commit {
  type: string;
  scope: string | null;
  description: string;
  breaking: boolean;
}

export interface Release {
  app: string;
  /** The last released version, or null when the app was never tagged. */
  current: string | null;
  next: string;
  bump: Bump | "initial";
  tag: string;
  commits: ParsedCommit[];
  changelog: string;
}

const HEADER = /^(\w+)(?:\(([^)]*)\))?(!)?:\s*(.+)$/;

/** `feat(pledge)!: text` → its parts; a subject that is not conventional is type "other". */
export function parseCommit(commit: Commit): ParsedCommit {
  const match = HEADER.exec(commit.subject.trim());
  const breakingFooter = /^BREAKING[ -]CHANGE:/m.test(commit.body);
  if (!match) return { ...commit, type: "other", scope: null, description: commit.subject, breaking: breakingFooter };
  const [, type, scope, bang, description] = match;
  return {
    ...commit,
    type: (type as string).toLowerCase(),
    scope: scope?.trim() || null,
    description: description as string,
    breaking: Boolean(bang) || breakingFooter,
  };
}

/**
 * A commit whose scope names the app and that is a feature, a fix or breaking counts for it even
 * when it touches none of the app's files (a fix made in configuration, say); a scoped test or
 * docs commit that changes nothing the image holds does not.
 */
function asksToRelease(c: ParsedCommit, app: string): boolean {
  const scoped = (c.scope ?? "").split(",").some((s) => s.trim() === app);
  return scoped && (c.breaking || ["feat", "fix", "perf"].includes(c.type));
}

/** What one commit asks for: breaking → major, feat → minor, anything else that changed the app → patch. */
export function bumpOf(commit: ParsedCommit): Bump {
  if (commit.breaking) return "major";
  if (commit.type === "feat") return "minor";
  return "patch";
}

const RANK: Record<Bump, number> = { patch: 0, minor: 1, major: 2 };

export function nextVersion(current: string | null, bumps: Bump[]): { next: string; bump: Bump | "initial" } {
  if (current === null) return { next: "0.1.0", bump: "initial" };
  const [major, minor, patch] = current.split(".").map(Number) as [number, number, number];
  const bump = bumps.reduce<Bump>((a, b) => (RANK[b] > RANK[a] ? b : a), "patch");
  if (bump === "major") return { next: `${major + 1}.0.0`, bump };
  if (bump === "minor") return { next: `${major}.${minor + 1}.0`, bump };
  return { next: `${major}.${minor}.${patch + 1}`, bump };
}

function git(cwd: string, args: string[]): string {
  const out = Bun.spawnSync(["git", ...args], { cwd });
  if (out.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${out.stderr.toString().trim()}`);
  return out.stdout.toString();
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** The highest `<app>@x.y.z` tag reachable from HEAD, or null. */
export function lastRelease(app: string, cwd = ROOT): string | null {
  const versions = git(cwd, ["tag", "--merged", "HEAD", "--list", `${app}@*`])
    .split("\n")
    .map((t) => t.trim().slice(app.length + 1))
    .filter((v) => SEMVER.test(v))
    .map((v) => v.split(".").map(Number) as [number, number, number])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const top = versions.at(-1);
  return top ? top.join(".") : null;
}

/** Commits after `since` (a tag; null: the whole history) up to HEAD, oldest first, with their files. */
export function commitsSince(since: string | null, cwd = ROOT): Commit[] {
  const range = since ? `${since}..HEAD` : "HEAD";
  const raw = git(cwd, ["log", "--reverse", "--no-merges", "--name-only", "--format=%x1e%H%x1f%s%x1f%b%x1d", range]);
  return raw
    .split("\x1e")
    .filter((chunk) => chunk.trim())
    .map((chunk) => {
      const [head, names = ""] = chunk.split("\x1d");
      const [hash = "", subject = "", body = ""] = (head as string).split("\x1f");
      return { hash, subject, body: body.trim(), files: names.split("\n").filter(Boolean) };
    });
}

const SECTIONS: Array<[string, (c: ParsedCommit) => boolean]> = [
  ["Breaking changes", (c) => c.breaking],
  ["Features", (c) => !c.breaking && c.type === "feat"],
  ["Fixes", (c) => !c.breaking && (c.type === "fix" || c.type === "perf")],
  ["Other changes", (c) => !c.breaking && !["feat", "fix", "perf"].includes(c.type)],
];

export function changelog(app: string, version: string, commits: ParsedCommit[], date = new Date()): string {
  const lines = [`## ${app} ${version} (${date.toISOString().slice(0, 10)})`];
  for (const [title, belongs] of SECTIONS) {
    const items = commits.filter(belongs);
    if (items.length === 0) continue;
    lines.push("", `### ${title}`, "");
    for (const c of items) lines.push(`- ${c.scope ? `**${c.scope}:** ` : ""}${c.description} (${c.hash.slice(0, 7)})`);
  }
  return lines.join("\n");
}

/** The release each deployable app (or only `apps`) needs, or nothing for an app nothing touched since its tag. */
export function plan(options: { cwd?: string; apps?: string[]; packages?: WorkspacePackage[]; date?: Date } = {}) {
  const cwd = options.cwd ?? ROOT;
  const packages = options.packages ?? readWorkspace(cwd);
  const deployable = packages.filter((p) => p.deployable).map((p) => p.dir.split("/").pop() as string);
  const releases: Release[] = [];
  for (const app of options.apps ?? deployable) {
    const current = lastRelease(app, cwd);
    const commits = commitsSince(current === null ? null : `${app}@${current}`, cwd)
      .map(parseCommit)
      .filter((c) => affected(c.files, packages).images.includes(app) || asksToRelease(c, app));
    if (commits.length === 0) continue;
    const { next, bump } = nextVersion(current, commits.map(bumpOf));
    releases.push({
      app,
      current,
      next,
      bump,
      tag: `${app}@${next}`,
      commits,
      changelog: changelog(app, next, commits, options.date),
    });
  }
  return releases;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`usage: bun scripts/version.ts [app…] [--json] [--changelog]
  For each deployable app (or the ones named) changed since its last <app>@x.y.z tag: the next
  version from the conventional commits that touch it. --json prints the plan for CI
  ([{ app, current, next, bump, tag, changelog }]); --changelog prints the changelog sections only.`);
    process.exit(0);
  }
  const apps = args.filter((a) => !a.startsWith("--"));
  const releases = plan(apps.length > 0 ? { apps } : {});
  if (args.includes("--json")) {
    console.log(JSON.stringify(releases.map(({ commits: _commits, ...r }) => r)));
  } else if (args.includes("--changelog")) {
    console.log(releases.map((r) => r.changelog).join("\n\n"));
  } else {
    for (const r of releases)
      console.log(`${r.app}: ${r.current ?? "(never released)"} → ${r.next} (${r.bump}, ${r.commits.length} commits)`);
    if (releases.length === 0) console.log("nothing to release");
  }
}
