// Private, killable instances of the servers under the platform, for tests of what happens when
// one goes away: started on a free port, SIGKILLed and started again on the same port by the test.
// (No bun:test import here: the launcher uses freePort too.)
import type { Subprocess } from "bun";

/** A port nobody is listening on right now. */
export function freePort(): number {
  const server = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = server.port as number;
  server.stop(true);
  return port;
}

export interface KillableServer {
  url: string;
  port: number;
  /** SIGKILL: no shutdown, no goodbye to clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is kept on disk). */
  start(): Promise<void>;
}

async function waitForPort(port: number, proc: Subprocess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server on port ${port} exited with ${proc.exitCode}`);
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } })
      .then((s) => {
        s.end();
        return true;
      })
      .catch(() => false);
    if (open) return;
    await Bun.sleep(25);
  }
  throw new Error(`server on port ${port} did not start within ${timeoutMs} ms`);
}

/** A redis-server of its own (Debian's binary), keeping nothing on disk; on `port` or a free one. */
export async function startRedisServer(port = freePort()): Promise<KillableServer> {
  let proc: Subprocess | undefined;
  const server: KillableServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = Bun.spawn(
        ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        {
          stdout: "ignore",
          stderr: "ignore",
        },
      );
      await waitForPort(port, proc);
    },
    async kill() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  await server.start();
  return server;
}
