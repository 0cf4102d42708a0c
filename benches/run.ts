// Benchmark entry point: `bun benches/run.ts <scenario> [--profile servers|embedded] [--duration 10s]
// [--warmup 2s] [--connections 64] [--threads 2] [--rounds 3] [--log-level info]` (also `./cfa bench ...`).
// Scenarios are the files in benches/scenarios/, each exporting `name`, `description` and `run(options)`
// (and `profiles` when it can measure the embedded profile too, `flags` for options of its own).
// Exit codes: 0 measured (whatever the verdict), 1 harness failure, 2 usage error, 130 interrupted.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { loadTool, loadToolVersion } from "./lib/load";
import { LOG_LEVELS, startLogLevel } from "./lib/platform";
import { report } from "./lib/report";
import { type BenchOptions, PROFILES, type Profile, type Scenario } from "./lib/types";

const SCENARIOS_DIR = join(import.meta.dir, "scenarios");

const DEFAULTS = {
  profile: "servers" as Profile,
  duration: "10s",
  warmup: "2s",
  connections: 64,
  threads: 2,
  rounds: 3,
};

class UsageError extends Error {}

function isScenario(value: unknown): value is Scenario {
  const v = value as Partial<Scenario> | null | undefined;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.name === "string" &&
    typeof v.description === "string" &&
    typeof v.run === "function"
  );
}

/** Every scenario module: named exports `{ name, description, run }` or a default export of that shape. */
export async function loadScenarios(): Promise<Scenario[]> {
  const files = readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.endsWith(".test.ts") && !f.startsWith("_"))
    .sort();
  const scenarios: Scenario[] = [];
  for (const file of files) {
    const mod = (await import(join(SCENARIOS_DIR, file))) as Record<string, unknown>;
    const candidate = isScenario(mod.default) ? mod.default : mod;
    if (!isScenario(candidate)) {
      throw new Error(`benches/scenarios/${file} must export name, description and run(options)`);
    }
    scenarios.push({
      name: candidate.name,
      description: candidate.description,
      run: candidate.run,
      profiles: Array.isArray(candidate.profiles) ? candidate.profiles : ["servers"],
      ...(candidate.flags ? { flags: candidate.flags } : {}),
    });
  }
  const names = new Set<string>();
  for (const s of scenarios) {
    if (names.has(s.name)) throw new Error(`two scenarios are named ${s.name}`);
    names.add(s.name);
  }
  return scenarios;
}

/** "10s", "10", "2m", "1500ms" → whole seconds (the load generators take whole seconds). */
export function parseDuration(text: string, flag: string, min: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration like 10s or 1m, got ${JSON.stringify(text)}`);
  const value = Number(m[1]);
  const seconds = m[2] === "ms" ? value / 1000 : m[2] === "m" ? value * 60 : value;
  if (!Number.isInteger(seconds) || seconds < min) {
    throw new UsageError(`${flag}: must be a whole number of seconds >= ${min}, got ${JSON.stringify(text)}`);
  }
  return seconds;
}

function parseCount(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag}: expected a whole number >= 1, got ${JSON.stringify(text)}`);
  }
  return n;
}

function parseProfile(text: string): Profile {
  const profile = PROFILES.find((p) => p === text);
  if (!profile) throw new UsageError(`--profile: expected one of ${PROFILES.join(", ")}, got ${JSON.stringify(text)}`);
  return profile;
}

function parseLogLevel(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(text)}`);
  }
  return text;
}

interface ParsedArgs {
  scenario?: string;
  help: boolean;
  profile: string;
  duration: string;
  warmup: string;
  connections: string;
  threads: string;
  rounds: string;
  logLevel?: string;
  /** `--name value` options none of the common ones: the scenario's own `flags` (checked once it is known). */
  extra: Record<string, string>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const args: ParsedArgs = {
    help: false,
    profile: DEFAULTS.profile,
    duration: DEFAULTS.duration,
    warmup: DEFAULTS.warmup,
    connections: String(DEFAULTS.connections),
    threads: String(DEFAULTS.threads),
    rounds: String(DEFAULTS.rounds),
    extra: {},
  };
  const flags = ["profile", "duration", "warmup", "connections", "threads", "rounds", "log-level"] as const;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "-h" || arg === "--help") {
      args.help = true;
      continue;
    }
    if (arg.startsWith("--")) {
      const [key, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      const flag = flags.find((f) => f === key);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      if (!flag) args.extra[key] = value;
      else if (flag === "log-level") args.logLevel = value;
      else args[flag] = value;
      continue;
    }
    if (args.scenario !== undefined) throw new UsageError(`unexpected argument ${arg}`);
    args.scenario = arg;
  }
  return args;
}

function usage(scenarios: Scenario[]): string {
  const width = Math.max(0, ...scenarios.map((s) => s.name.length));
  return [
    "usage: bun benches/run.ts <scenario> [options]      (or: bun run bench <scenario> [options])",
    "",
    "scenarios:",
    ...(scenarios.length
      ? scenarios.flatMap((s) => [
          `  ${s.name.padEnd(width)}  ${s.description} [${(s.profiles ?? ["servers"]).join(", ")}]`,
          ...Object.entries(s.flags ?? {}).map(
            ([flag, f]) => `  ${"".padEnd(width)}    --${flag} <value>: ${f.help} (default ${f.default})`,
          ),
        ])
      : ["  (none)"]),
    "",
    "options:",
    `  --profile <p>      the platform measured: servers (each service its own process on PostgreSQL, Redis, NATS)`,
    `                     or embedded (every service in one process on PGlite) (default ${DEFAULTS.profile})`,
    `  --duration <t>     measured time per run (default ${DEFAULTS.duration}; whole seconds: 10s, 1m)`,
    `  --warmup <t>       unrecorded warm-up before each run (default ${DEFAULTS.warmup}; 0 disables)`,
    `  --connections <n>  concurrent connections (default ${DEFAULTS.connections})`,
    `  --threads <n>      load-generator threads, wrk only (default ${DEFAULTS.threads})`,
    `  --rounds <n>       interleaved rounds; the table shows medians (default ${DEFAULTS.rounds})`,
    `  --log-level <l>    services' LOG_LEVEL (default: as ./cfa start, ${startLogLevel()}; ${LOG_LEVELS.join(", ")})`,
    "",
    `load generator: ${loadTool() ?? "none found (install oha or wrk)"}`,
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const scenarios = await loadScenarios();
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${usage(scenarios)}`);
    return 2;
  }
  if (args.help || args.scenario === undefined) {
    console.log(usage(scenarios));
    return 0;
  }
  const scenario = scenarios.find((s) => s.name === args.scenario);
  if (!scenario) {
    console.error(`unknown scenario ${JSON.stringify(args.scenario)}\n\n${usage(scenarios)}`);
    return 2;
  }

  const unknown = Object.keys(args.extra).filter((k) => !(k in (scenario.flags ?? {})));
  if (unknown.length > 0) {
    console.error(`unknown option ${unknown.map((k) => `--${k}`).join(", ")}\n\n${usage(scenarios)}`);
    return 2;
  }
  const controller = new AbortController();
  let options: BenchOptions;
  try {
    options = {
      profile: parseProfile(args.profile),
      durationSec: parseDuration(args.duration, "--duration", 1),
      warmupSec: parseDuration(args.warmup, "--warmup", 0),
      connections: parseCount(args.connections, "--connections"),
      threads: parseCount(args.threads, "--threads"),
      rounds: parseCount(args.rounds, "--rounds"),
      logLevel: parseLogLevel(args.logLevel) ?? startLogLevel(),
      signal: controller.signal,
      log: (message) => console.error(`[bench] ${message}`),
      flags: {
        ...Object.fromEntries(Object.entries(scenario.flags ?? {}).map(([k, f]) => [k, f.default])),
        ...args.extra,
      },
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${usage(scenarios)}`);
    return 2;
  }
  if (!(scenario.profiles ?? ["servers"]).includes(options.profile)) {
    console.error(
      `${scenario.name} measures the ${(scenario.profiles ?? ["servers"]).join(", ")} profile only, not ${options.profile}`,
    );
    return 2;
  }
  if (loadTool() === null) {
    console.error("no load generator found: install oha or wrk");
    return 1;
  }

  // First Ctrl-C: stop measuring and tear down; a second one gives up on tearing down.
  const interrupt = (signal: string) => {
    if (controller.signal.aborted) process.exit(130);
    options.log(`${signal}: stopping and tearing down (again to force)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", () => interrupt("SIGINT"));
  process.on("SIGTERM", () => interrupt("SIGTERM"));

  const toolVersion = loadToolVersion();
  options.log(
    `${scenario.name} (${options.profile} profile): ${options.rounds} rounds x ${options.durationSec}s (warm-up ${options.warmupSec}s), ` +
      `${options.connections} connections, ${toolVersion}, services' LOG_LEVEL ${options.logLevel}`,
  );
  const startedAt = new Date();
  try {
    const result = await scenario.run(options);
    report({
      scenario: scenario.name,
      description: scenario.description,
      options,
      result,
      startedAt,
      finishedAt: new Date(),
      toolVersion,
    });
    if (result.cleanupErrors.length > 0) {
      console.error(`teardown failed: ${result.cleanupErrors.join("; ")}`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (controller.signal.aborted) {
      console.error(`${scenario.name}: interrupted`);
      return 130;
    }
    console.error(`${scenario.name} failed:`, err);
    return 1;
  }
}

if (import.meta.main) {
  try {
    process.exit(await main(process.argv.slice(2)));
  } catch (err) {
    console.error("bench harness failed:", err);
    process.exit(1);
  }
}
