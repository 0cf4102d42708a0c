// deploy/nats/nats.conf's archiver user on a private nats-server, as compose runs it: it can
// provision the stream, hold its durable consumer of every event and acknowledge what it got,
// and it can publish no event of its own (an archive that could forge events would be no archive).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, createJetStreamBus, type EventEnvelope } from "@careforall/bus";
import { freePort } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { waitFor } from "@careforall/testkit";
import type { Subprocess } from "bun";

const CONF = join(import.meta.dir, "..", "..", "..", "deploy", "nats", "nats.conf");
const dir = mkdtempSync(join(tmpdir(), "cfa-archiver-nats-"));
const port = freePort();
let server: Subprocess;
const buses: Bus[] = [];
const log = silentLogger();

// Every user's password variable the file names, each set (an unset one stops the server).
const passwords = Object.fromEntries(
  [...readFileSync(CONF, "utf8").matchAll(/\$([A-Z]+_NATS_PASSWORD)/g)].map((m) => [m[1], `s${m[1]?.toLowerCase()}`]),
);
const url = (user: string) => `nats://${user}:${passwords[`${user.toUpperCase()}_NATS_PASSWORD`]}@127.0.0.1:${port}`;

const event = (type: string): EventEnvelope => ({
  id: Bun.randomUUIDv7(),
  type,
  occurredAt: new Date().toISOString(),
  aggregateId: "a",
  data: {},
});

beforeAll(async () => {
  expect(passwords.ARCHIVER_NATS_PASSWORD).toBeDefined();
  server = Bun.spawn(
    ["nats-server", "-c", CONF, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "js")],
    { env: { PATH: process.env.PATH, ...passwords }, stdout: "ignore", stderr: "ignore" },
  );
  await waitFor(
    async () => {
      if (server.exitCode !== null) throw new Error(`nats-server exited with ${server.exitCode}`);
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return true;
    },
    { timeoutMs: 20_000, what: "the private nats-server" },
  );
}, 30_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close().catch(() => {})));
  server?.kill("SIGKILL");
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

test("the archiver consumes every service's events durably and acknowledges them, and publishes none", async () => {
  const archiver = await createJetStreamBus({ url: url("archiver"), prefix: "cfa", log, name: "archiver" });
  buses.push(archiver);
  const pledge = await createJetStreamBus({ url: url("pledge"), prefix: "cfa", log, name: "pledge" });
  buses.push(pledge);
  const payment = await createJetStreamBus({ url: url("payment"), prefix: "cfa", log, name: "payment" });
  buses.push(payment);

  const got: string[] = [];
  const subscription = await archiver.subscribe({
    durable: "archiver",
    types: [">"],
    handler: async (e) => void got.push(e.type),
  });
  await pledge.publish(event("pledge.created"));
  await payment.publish(event("payment.captured"));
  await waitFor(() => got.includes("pledge.created") && got.includes("payment.captured"), {
    timeoutMs: 20_000,
    what: "both events at the archiver",
  });
  // Acknowledged: nothing left for the consumer.
  await waitFor(async () => (await subscription.pending()) === 0, { timeoutMs: 20_000, what: "the acks" });

  const forged = await archiver.publish(event("pledge.captured")).then(
    () => "published",
    (e: Error) => String(e),
  );
  expect(forged).toMatch(/permission/i);
}, 60_000);
