// The web app's component tests (apps/web/test/dom: Solid in happy-dom) need a DOM installed as
// globals and Solid's browser build, which must not leak into the platform's tests sharing this
// process (their fetch, WebSocket and timers stay Bun's): they run in a `bun test` process of their
// own, and this test fails with their output when any of them fails. The .tsx sources are
// type-checked with their own compiler settings (Solid's JSX) likewise.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack";

const WEB = join(ROOT, "apps", "web");

async function run(cmd: string[]): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: out + err };
}

test("apps/web component tests (own process, happy-dom)", async () => {
  const { code, output } = await run([
    "bun",
    "test",
    "--conditions",
    "browser",
    "--preload",
    join(WEB, "test", "dom", "setup.ts"),
    // Every component test file (donate panel, owner screens, …), so a new one cannot be left out.
    ...[...new Bun.Glob("*.dom.tsx").scanSync(join(WEB, "test", "dom"))].sort().map((f) => join(WEB, "test", "dom", f)),
  ]);
  const passed = Number(/^\s*(\d+) pass/m.exec(output)?.[1] ?? 0);
  console.log(output.match(/^Ran .*$/m)?.[0] ?? "");
  if (code !== 0 || passed === 0) console.error(output);
  expect(code).toBe(0);
  expect(passed).toBeGreaterThan(0);
}, 60_000);

test("apps/web type-checks with Solid's JSX settings", async () => {
  const { code, output } = await run(["bunx", "tsc", "--noEmit", "-p", join(WEB, "tsconfig.json")]);
  if (code !== 0) console.error(output);
  expect(code).toBe(0);
}, 240_000);
