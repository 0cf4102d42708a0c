// ./cfa as a person meets it: an unknown command says so and fails; --help on every command prints
// its usage and does nothing else; seeding a platform that is not running, or with the wrong admin
// password, says what to check instead of printing a stack trace.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort } from "@careforall/http";
import { runCommand } from "@careforall/testkit";
import { useStack } from "../apps/gateway/test/e2e/support";

const ROOT = join(import.meta.dir, "..");

const cfa = (args: string[], env: Record<string, string> = {}) =>
  runCommand([join(ROOT, "cfa"), ...args], { cwd: ROOT, env: { ...process.env, ...env } });

const noStackTrace = (text: string) => expect(text).not.toMatch(/\bat \S+ \(|\bat \/|\.ts:\d+/);

describe("./cfa", () => {
  test("an unknown command says so, shows the commands and exits non-zero", async () => {
    const run = await cfa(["strat"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'strat'");
    expect(run.stderr).toContain("usage: ./cfa <command>");
  });

  test.each([
    "start",
    "test",
    "bench",
    "seed",
    "rebuild",
  ])("%s --help prints its usage and nothing else", async (cmd) => {
    const run = await cfa([cmd, "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith(`usage: ./cfa ${cmd}`)).toBe(true);
    expect(run.stderr).toBe(""); // no "[cfa] starting …" / "installing …": nothing was done
  });

  test("seed against a gateway that is not running asks whether ./cfa start is", async () => {
    const run = await cfa(["seed", `http://127.0.0.1:${freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("is `./cfa start` running?");
    noStackTrace(run.stderr);
  });
});

describe("./cfa against a running platform", () => {
  const e2e = useStack({}, { label: "cli" });

  test("seed with the wrong admin password says which settings to check", async () => {
    const run = await cfa(["seed", e2e.gw], { ADMIN_PASSWORD: "not-the-password" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("check ADMIN_EMAIL and ADMIN_PASSWORD");
    noStackTrace(run.stderr);
  }, 60_000);
});
