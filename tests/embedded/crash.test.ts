// The embedded profile survives a crash: the platform runs as a subprocess on a data directory, a
// burst of donations is accepted (some on the slow test account, so payment handlers are waiting on
// the bank), the process is SIGKILLed mid-flow and started again on the same directory. Every
// accepted pledge must still reach captured and the money audit must balance: events the outbox
// relays had handed to the in-memory bus were acknowledged, so they must have been journaled.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@careforall/http";
import { waitFor } from "@careforall/testkit";
import {
  adminToken,
  type CreatedPledge,
  idemKey,
  moneyEnv,
  type PledgeInput,
  pledge,
  readPledge,
  SLOW,
  waitCleanAudit,
  waitForPledgeView,
} from "../../apps/gateway/test/e2e/money";
import { ADMIN, call, createCampaign, register, uniqueEmail } from "../../apps/gateway/test/e2e/support";

const ROOT = join(import.meta.dir, "..", "..");
const root = mkdtempSync(join(tmpdir(), "cfa-embedded-crash-"));
const dataDir = join(root, "data");

interface Running {
  proc: ReturnType<typeof Bun.spawn>;
  gw: string;
  output(): string;
}

const running: Running[] = [];

async function collect(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onText(decoder.decode(value, { stream: true }));
  }
}

/** `./cfa start --embedded`'s own entry point, on this test's data directory, until /ready answers. */
async function start(): Promise<Running> {
  const port = freePort();
  let output = "";
  const proc = Bun.spawn([process.execPath, join(ROOT, "scripts", "start-embedded.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...moneyEnv({
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        // acct_test_slow keeps a payment handler waiting on the bank: the kill lands inside it.
        SLOW_ACCOUNT_DELAY_MS: "1500",
        RECONCILE_AFTER_MS: "3000",
      }),
      PORT: String(port),
      CFA_DATA_DIR: dataDir,
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  void collect(proc.stdout as ReadableStream<Uint8Array>, (text) => {
    output += text;
  });
  void collect(proc.stderr as ReadableStream<Uint8Array>, (text) => {
    output += text;
  });
  const r: Running = { proc, gw: `http://127.0.0.1:${port}`, output: () => output };
  running.push(r);
  // A process that exits while starting fails the test at once, with what it said.
  const exited = proc.exited.then((code) => {
    throw new Error(`start-embedded exited ${code}: ${output.slice(-3000)}`);
  });
  await Promise.race([
    exited,
    waitFor(async () => (await fetch(`${r.gw}/ready`).catch(() => null))?.status === 200, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: "the embedded platform's /ready",
    }),
  ]);
  exited.catch(() => {});
  return r;
}

afterAll(async () => {
  for (const r of running) {
    if (r.proc.exitCode === null) {
      r.proc.kill("SIGKILL");
      await r.proc.exited;
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** A 503 is the platform shedding load (a dependency's deadline on a busy machine): asked again. */
const TRANSIENT = new Set([429, 503]);

async function demoAccount(gw: string): Promise<{ bankAccountId: string; accountSecret: string }> {
  return waitFor(
    async () => {
      const reply = await call<{ bankAccountId: string; accountSecret: string }>(gw, "POST", "/api/bank/demo-accounts");
      if (reply.status === 201)
        return { bankAccountId: reply.body.bankAccountId, accountSecret: reply.body.accountSecret };
      if (TRANSIENT.has(reply.status)) return undefined;
      throw new Error(`demo account refused: ${reply.status} ${reply.text}`);
    },
    { timeoutMs: 30_000, intervalMs: 100, what: "a demo account" },
  );
}

/** A pledge accepted (202); asked again with the same Idempotency-Key while the answer is transient. */
async function acceptedPledge(gw: string, campaignId: string, body: PledgeInput): Promise<CreatedPledge> {
  const key = idemKey("crash");
  let last = "";
  return waitFor(
    async () => {
      const reply = await pledge(gw, campaignId, body, { key });
      if (reply.status === 202) return reply.body;
      last = `${reply.status} ${reply.text}`;
      if (TRANSIENT.has(reply.status)) return undefined;
      throw new Error(`pledge refused: ${last}`);
    },
    { timeoutMs: 30_000, intervalMs: 100, what: "the pledge to be accepted" },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last answer: ${last})`);
  });
}

test("SIGKILL mid-flow, restarted on the same data directory: every accepted pledge is captured, no drift", async () => {
  const first = await start();
  const owner = await register(first.gw, { name: "Crash Owner" });
  const campaign = await createCampaign(first.gw, owner.token, { title: "Embedded crash relief" });
  await waitForPledgeView(first.gw, campaign.id, "EUR", 422);
  const firstAdmin = await adminToken(first.gw);

  // Demo accounts first (their creation is not part of the burst).
  const demos = [];
  for (let i = 0; i < 12; i++) demos.push(await demoAccount(first.gw));
  const sources = [...demos, ...Array.from({ length: 12 }, () => SLOW)];
  const pledges = await Promise.all(
    sources.map((source, i) =>
      acceptedPledge(first.gw, campaign.id, {
        amountMinor: 1_000 + i,
        currency: "BDT",
        donor: { email: uniqueEmail(`crash${i}`), name: "Casey Crash" },
        source,
      }),
    ),
  );
  const expectedRaised = pledges.reduce((sum, p) => sum + p.amountMinor, 0);

  // Mid-flow: the burst is accepted, its events are in the outboxes, the bus and the handlers (the
  // slow account's authorizations take 1.5 s: some pledges are surely not captured yet).
  const before = await Promise.all(pledges.map((p) => readPledge(first.gw, p.id, { token: firstAdmin })));
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  expect(before.filter((r) => r.body.status !== "captured").length).toBeGreaterThan(0);

  const second = await start();
  const admin = await adminToken(second.gw);
  const statuses = new Map<string, string>();
  try {
    await waitFor(
      async () => {
        for (const p of pledges) {
          if (statuses.get(p.id) === "captured") continue;
          const reply = await readPledge(second.gw, p.id, { token: admin });
          statuses.set(p.id, reply.status === 200 ? reply.body.status : `http ${reply.status}`);
        }
        return pledges.every((p) => statuses.get(p.id) === "captured");
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "every accepted pledge to be captured after the restart" },
    );
  } catch (err) {
    const open = pledges.filter((p) => statuses.get(p.id) !== "captured").map((p) => `${p.id}:${statuses.get(p.id)}`);
    throw new Error(`${(err as Error).message}; not captured (${open.length}/${pledges.length}): ${open.join(", ")}`);
  }
  await waitFor(
    async () => {
      const reply = await call<{ campaigns: Array<{ campaignId: string; raisedMinor: number }> }>(
        second.gw,
        "GET",
        "/api/admin/audit",
        undefined,
        { token: admin },
      );
      const line = reply.body.campaigns?.find((c) => c.campaignId === campaign.id);
      return reply.status === 200 && line?.raisedMinor === expectedRaised;
    },
    { timeoutMs: 20_000, intervalMs: 250, what: "the campaign's total to reach every captured pledge" },
  );
  // Every campaign, the demo data's included (its seeding was under way too), balances.
  expect((await waitCleanAudit(second.gw, admin, 30_000)).totalDriftMinor).toBe(0);

  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
}, 240_000);
