// The whole check suite: Biome (format + lint), the TypeScript compiler in strict mode, then
// every test file with `bun test`. Ends with one line "N passed, N failed" counted from the real
// run (each static check counts as one), and exits non-zero if anything failed.
import { ROOT } from "./stack";

interface StepResult {
  passed: number;
  failed: number;
  skipped: number;
}

async function run(
  title: string,
  cmd: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  console.log(`\n━━ ${title}: ${cmd.join(" ")}`);
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      output += text;
      sink.write(text);
    }
  };
  await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
  return { code: await proc.exited, output };
}

function check(result: { code: number }): StepResult {
  return result.code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 };
}

const filters = process.argv.slice(2);
const totals: StepResult = { passed: 0, failed: 0, skipped: 0 };
const add = (r: StepResult) => {
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
};

if (filters.length === 0) {
  add(check(await run("lint", ["bunx", "biome", "check", "."])));
  add(check(await run("typecheck", ["bunx", "tsc", "--noEmit", "-p", "tsconfig.json"])));
}

const tests = await run("tests", ["bun", "test", "--timeout", "60000", ...filters], { FORCE_COLOR: "0" });
const count = (label: string) => Number(new RegExp(`^\\s*(\\d+) ${label}\\s*$`, "m").exec(tests.output)?.[1] ?? 0);
const result = { passed: count("pass"), failed: count("fail"), skipped: count("skip") };
// Errors outside any test (an unhandled rejection between tests) fail the run even with 0 "fail".
const errors = count("errors?");
if (tests.code !== 0 && result.failed === 0) result.failed = Math.max(1, errors);
add(result);

const line = `${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`;
console.log(`\n${line}`);
process.exit(totals.failed > 0 || tests.code !== 0 ? 1 : 0);
