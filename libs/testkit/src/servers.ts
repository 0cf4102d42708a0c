// Private, killable instances of the servers under the platform, for tests of what happens when
// one goes away: started on a free port, SIGKILLed and started again on the same port by the test.
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@careforall/http";
import type { Subprocess } from "bun";

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

/** A server run as a child process: start() spawns `argv` and waits for its port, kill() SIGKILLs it. */
function childServer(url: string, port: number, argv: string[]): KillableServer {
  let proc: Subprocess | undefined;
  return {
    url,
    port,
    async start() {
      proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
      await waitForPort(port, proc);
    },
    async kill() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** A redis-server of its own (Debian's binary), keeping nothing on disk; on `port` or a free one. */
export async function startRedisServer(port = freePort()): Promise<KillableServer> {
  const server = childServer(`redis://127.0.0.1:${port}`, port, [
    "redis-server",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  await server.start();
  return server;
}

/** Debian's PostgreSQL binaries (the newest installed major version). */
function postgresBin(name: string): string {
  const versions = readdirSync("/usr/lib/postgresql")
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error("no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)");
  return `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
}

/** PostgreSQL refuses to run as root: as root, its tools run as the postgres user. */
const asPostgres = (argv: string[]) => (process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...argv] : argv);

/** Runs a command to its end and answers its exit code and output. */
export async function runCommand(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(argv, { ...options, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, stdout, stderr };
}

async function run(argv: string[]): Promise<void> {
  const { code, stdout, stderr } = await runCommand(asPostgres(argv));
  if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}: ${stderr || stdout}`);
}

/** A server that keeps data on disk between kill() and start(). */
export interface KillableStore extends KillableServer {
  /** Kills it and removes its data directory. */
  destroy(): Promise<void>;
}

/** A PostgreSQL that can also hang: its processes stopped, its connections left open. */
export interface PostgresStore extends KillableStore {
  /** SIGSTOP to the postmaster and every backend: nothing is refused, nothing is answered. */
  pause(): void;
  /** SIGCONT: it answers again, as if nothing had happened. */
  resume(): void;
}

/**
 * A PostgreSQL cluster of its own (initdb in a temp directory, trust auth, on a free port).
 * kill() is `pg_ctl stop -m immediate`: the server stops at once, no checkpoint, clients cut off,
 * crash recovery on the next start — the harshest stop short of losing the disk.
 */
export async function startPostgresServer(port = freePort()): Promise<PostgresStore> {
  const dir = mkdtempSync(join(tmpdir(), "cfa-pg-"));
  if (process.getuid?.() === 0) {
    const pw = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
    const gid = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
    chownSync(dir, Number(pw), Number(gid));
  }
  const data = join(dir, "data");
  await run([postgresBin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const pgCtl = (...args: string[]) => run([postgresBin("pg_ctl"), "-D", data, ...args]);
  /** The postmaster (first line of postmaster.pid) and the processes it started. */
  const processes = () => {
    const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = Bun.spawnSync(["pgrep", "-P", String(postmaster)])
      .stdout.toString()
      .split("\n")
      .filter(Boolean)
      .map(Number);
    return { postmaster, children };
  };
  const server: PostgresStore = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await pgCtl(
        "-w",
        "-l",
        join(dir, "log"),
        "-o",
        `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=200 -c fsync=off`,
        "start",
      );
    },
    async kill() {
      await pgCtl("-m", "immediate", "stop").catch(() => {});
    },
    pause() {
      // The postmaster first, so it starts no new backend while the others are being stopped.
      const { postmaster, children } = processes();
      process.kill(postmaster, "SIGSTOP");
      for (const pid of children) process.kill(pid, "SIGSTOP");
    },
    resume() {
      const { postmaster, children } = processes();
      for (const pid of children) process.kill(pid, "SIGCONT");
      process.kill(postmaster, "SIGCONT");
    },
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/**
 * A nats-server with JetStream of its own (Debian's binary), its store in a temp directory that
 * survives kill() and start(), as a real server's disk would.
 */
export async function startNatsServer(port = freePort()): Promise<KillableStore> {
  const dir = mkdtempSync(join(tmpdir(), "cfa-nats-"));
  const child = childServer(`nats://127.0.0.1:${port}`, port, [
    "nats-server",
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-js",
    "-sd",
    dir,
  ]);
  const server: KillableStore = {
    ...child,
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
