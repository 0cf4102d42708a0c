// Finding this process's own service children by pid, for the one case the stack handle cannot
// cover: startStack throwing half-way (a service not ready) leaves the ones it did launch running.
import { readdirSync, readFileSync } from "node:fs";

/** Pids of direct children of this process whose command line contains `needle` (Linux /proc). */
export function childPids(needle: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(ppid) !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** SIGTERM each pid, then SIGKILL whatever is still alive after `graceMs`. */
export async function terminate(pids: readonly number[], graceMs = 5000): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await Bun.sleep(50);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
}
