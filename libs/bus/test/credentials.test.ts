// A NATS server that requires a user and password (as compose's does): the bus connects with the
// credentials written in NATS_URL, and is refused without them or with a wrong password.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, createJetStreamBus, deleteStream, type EventEnvelope, natsConnectOptions } from "@careforall/bus";
import { freePort } from "@careforall/http";
import type { Subprocess } from "bun";
import { makeEvent } from "./contract";
import { captureLog, waitFor } from "./wait-for";

// Characters that must be percent-escaped in a URL, so decoding is part of what is tested.
const USER = "svc";
const PASSWORD = "pa/ss@word:1";
const dir = mkdtempSync(join(tmpdir(), "cfa-nats-auth-"));
const port = freePort();
let server: Subprocess;
const base = `127.0.0.1:${port}`;
const withCredentials = `nats://${USER}:${encodeURIComponent(PASSWORD)}@${base}`;

beforeAll(async () => {
  const config = join(dir, "nats.conf");
  writeFileSync(config, `authorization { users = [ { user: "${USER}", password: "${PASSWORD}" } ] }\n`);
  server = Bun.spawn(
    ["/usr/sbin/nats-server", "-c", config, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "js")],
    { stdout: "ignore", stderr: "ignore" },
  );
  await waitFor(
    () =>
      Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => {
        s.end();
        return true;
      }),
    10_000,
    25,
  );
});
afterAll(async () => {
  server.kill("SIGKILL");
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("NATS credentials", () => {
  test("credentials in NATS_URL become the client's user and password; the URLs lose them", () => {
    expect(natsConnectOptions(`${withCredentials}, nats://${base}`)).toEqual({
      servers: [`nats://${base}`, `nats://${base}`],
      user: USER,
      pass: PASSWORD,
    });
    expect(natsConnectOptions(`nats://s3cr%2Ft@${base}`)).toEqual({ servers: [`nats://${base}`], token: "s3cr/t" });
    expect(natsConnectOptions(`nats://${base}`)).toEqual({ servers: [`nats://${base}`] });
  });

  test("with the right credentials the bus publishes and delivers; the stream can be deleted", async () => {
    const prefix = `t_auth_${Date.now().toString(36)}`;
    const { log } = captureLog();
    const bus: Bus = await createJetStreamBus({ url: withCredentials, prefix, log });
    try {
      const received: EventEnvelope[] = [];
      await bus.subscribe({
        durable: "creds",
        types: ["pledge.created"],
        handler: async (event) => {
          received.push(event);
        },
      });
      const event = makeEvent("pledge.created", { n: 1 });
      await bus.publish(event);
      await waitFor(() => received.some((e) => e.id === event.id));
    } finally {
      await bus.close();
    }
    expect(await deleteStream(withCredentials, prefix)).toBe(true);
  });

  test("without credentials, or with a wrong password, the connection is refused", async () => {
    const { log } = captureLog();
    const prefix = `t_noauth_${Date.now().toString(36)}`;
    const none = await createJetStreamBus({ url: `nats://${base}`, prefix, log }).catch((e: Error) => e);
    expect(none).toBeInstanceOf(Error);
    expect(String((none as Error).message)).toMatch(/authoriz/i);
    const wrong = await createJetStreamBus({ url: `nats://${USER}:nope@${base}`, prefix, log }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(Error);
    expect(String((wrong as Error).message)).toMatch(/authoriz/i);
  });
});
