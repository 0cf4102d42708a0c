// The README's walkthrough, run exactly as written (the shell block between its walkthrough
// markers) against a started platform: sign up, start a campaign, open a demo account, donate as
// a guest, follow the receipt to captured, see the totals move. If the README drifts from the API,
// this fails.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "@careforall/testkit";
import { useStack } from "../apps/gateway/test/e2e/support";

const e2e = useStack({}, { label: "readme" });

function walkthrough(): string {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  if (!block?.[1]) throw new Error("README.md has no walkthrough block between its markers");
  return block[1];
}

describe("README walkthrough", () => {
  test("runs as written: the guest's pledge is captured and the campaign shows it", async () => {
    const {
      code,
      stdout: out,
      stderr: err,
    } = await runCommand(["bash", "-euo", "pipefail", "-c", walkthrough()], {
      env: { ...process.env, API: e2e.gw },
    });
    expect({ code, err: code === 0 ? "" : err, out: code === 0 ? "" : out }).toEqual({ code: 0, err: "", out: "" });
    expect(out).toMatch(/pledge [0-9a-f-]{36}: captured/);
    expect(out.trim().split("\n").at(-1)).toBe("raised 25000 of 500000 from 1 donor(s)");
  }, 90_000);
});
