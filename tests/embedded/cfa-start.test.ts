// `./cfa start --embedded` as a new user runs it on a machine without PostgreSQL, Redis or NATS
// (simulated: PATH without pg_ctlcluster, redis-server and nats-server; the data directory fresh):
// its first line names the profile and why, the gateway becomes ready, its banner tells a person
// where to go and what to pay with, a donation through the API reaches captured, and SIGTERM stops
// it cleanly (exit 0).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "@careforall/http";
import { waitFor } from "@careforall/testkit";
import { TEST_ACCOUNT_SECRET, TEST_ACCOUNTS } from "../../apps/bank/src/app";
import { accepted, waitForPledgeView, waitForStatus } from "../../apps/gateway/test/e2e/money";
import { call, createCampaign, register, uniqueEmail } from "../../apps/gateway/test/e2e/support";

const ROOT = join(import.meta.dir, "..", "..");
const root = mkdtempSync(join(tmpdir(), "cfa-start-embedded-"));
const HIDDEN = new Set(["pg_ctlcluster", "redis-server", "nats-server"]);

/** A PATH of one directory with every command of this PATH but the three servers'. */
function strippedPath(): string {
  const bin = join(root, "bin");
  mkdirSync(bin, { recursive: true });
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  // Bun itself first: the one running this test.
  symlinkSync(process.execPath, join(bin, "bun"));
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (HIDDEN.has(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  return bin;
}

async function collect(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onText(decoder.decode(value, { stream: true }));
  }
}

let proc: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  rmSync(root, { recursive: true, force: true });
});

test("./cfa start --embedded with no PostgreSQL, Redis or NATS: ready, a donation is captured, a clean stop", async () => {
  const path = strippedPath();
  for (const name of HIDDEN) expect(Bun.which(name, { PATH: path })).toBeNull();
  const port = freePort();
  const gw = `http://127.0.0.1:${port}`;
  let stderr = "";
  proc = Bun.spawn([join(ROOT, "cfa"), "start", "--embedded"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: path,
      PORT: String(port),
      CFA_DATA_DIR: join(root, "data"),
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
      RATE_LIMIT_PLEDGES: "0",
      RATE_LIMIT_DEMO_ACCOUNTS: "0",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const running = proc;
  let stdout = "";
  void collect(running.stderr as ReadableStream<Uint8Array>, (text) => {
    stderr += text;
  });
  void collect(running.stdout as ReadableStream<Uint8Array>, (text) => {
    stdout += text;
  });

  await waitFor(
    async () => {
      if (running.exitCode !== null) throw new Error(`./cfa start exited ${running.exitCode}: ${stderr}${stdout}`);
      const res = await fetch(`${gw}/ready`).catch(() => null);
      return res?.status === 200;
    },
    { timeoutMs: 90_000, intervalMs: 200, what: "the embedded platform's /ready" },
  );
  expect(stderr.split("\n")[0]).toContain("profile: embedded — asked for with --embedded");

  // The banner comes once the demo data is seeded: one short block, before the logs that follow.
  const bannerText = await waitFor(
    () => {
      const start = stdout.indexOf("CareForAll is up");
      const end = stdout.indexOf("Ctrl-C stops everything.", start);
      return start >= 0 && end > start ? stdout.slice(start, end) : null;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: "the start banner" },
  );
  expect(bannerText.split("\n").length).toBeLessThanOrEqual(15);
  expect(bannerText).toContain("embedded profile (asked for with --embedded)");
  expect(bannerText).toContain(`gateway    ${gw} `);
  expect(bannerText).toContain(`${gw}/docs`);
  const admin = `${process.env.ADMIN_EMAIL ?? "admin@careforall.local"} / ${process.env.ADMIN_PASSWORD ?? "admin-dev-password"}`;
  expect(bannerText).toContain(admin);
  expect(bannerText).toContain("/api/bank/demo-accounts");
  expect(bannerText).toContain(`secret "${TEST_ACCOUNT_SECRET}"`);
  for (const id of Object.values(TEST_ACCOUNTS)) expect(bannerText).toContain(id);

  const owner = await register(gw, { name: "Path Owner" });
  const campaign = await createCampaign(gw, owner.token);
  await waitForPledgeView(gw, campaign.id, "EUR", 422);
  const demo = await call<{ bankAccountId: string; accountSecret: string }>(gw, "POST", "/api/bank/demo-accounts");
  expect(demo.status).toBe(201);
  const created = await accepted(gw, campaign.id, {
    amountMinor: 1_500,
    currency: "BDT",
    donor: { email: uniqueEmail("path"), name: "Pat Path" },
    source: { bankAccountId: demo.body.bankAccountId, accountSecret: demo.body.accountSecret },
  });
  await waitForStatus(gw, created.id, "captured", { receiptToken: created.receiptToken });

  running.kill("SIGTERM");
  const code = await Promise.race([running.exited, Bun.sleep(30_000).then(() => "timed out")]);
  expect({ code, stderr: stderr.slice(-2000), stdout: stdout.slice(-3000) }).toMatchObject({ code: 0 });
  expect(stderr).not.toContain('"level":"fatal"');
}, 150_000);
