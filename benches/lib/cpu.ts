// Per-process CPU accounting for a benchmark window, from Linux /proc: every process of the stack
// (by pid), the PostgreSQL backends serving the bench database (pids from pg_stat_activity), the
// shared infrastructure (every postgres process, redis-server, nats-server: other users of this
// machine show up there too) and the whole machine (/proc/stat). Sampled every `intervalMs` and at
// named marks; a window between two marks is the CPU-seconds each one used in between.
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import type postgres from "postgres";

const CLK_TCK = (() => {
  try {
    const out = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" }).stdout.toString().trim();
    const n = Number(out);
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of one process (all its threads), in clock ticks; null when it is gone. */
export function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/** Busy and total ticks of all CPUs together (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Pids of processes whose command name (/proc/<pid>/comm) is one of `names`. */
export function pidsByName(names: readonly string[]): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (names.includes(comm)) found.set(Number(entry), comm);
    } catch {
      // ended while we looked
    }
  }
  return found;
}

interface Sample {
  at: number;
  /** group → pid → cumulative ticks */
  groups: Map<string, Map<number, number>>;
  machine: { busy: number; total: number } | null;
  /** Connections to the bench database by state (pg_stat_activity), when a monitor connection is given. */
  pgConnections: Record<string, number> | null;
  /** Busy backends of the bench database: "<application> <on CPU | wait event | idle in transaction>". */
  pgActivity: Record<string, number> | null;
}

export interface CpuRow {
  name: string;
  /** CPU-seconds used in the window. */
  cpuSec: number;
  /** Average share of one core over the window, percent (100 = one core busy all the time). */
  pctOfCore: number;
  /** True for processes other workloads on this machine share (their figures include them). */
  shared: boolean;
}

export interface CpuWindow {
  from: string;
  to: string;
  seconds: number;
  rows: CpuRow[];
  /** All CPUs together: busy cores on average, and how many there are. */
  machine: { busyCores: number; cores: number } | null;
  /** pg_stat_activity over the window: peak and mean connection count to the bench database. */
  /** Connections to the bench database: all of them, and the busy ones (not idle). */
  pgConnections: {
    peak: number;
    mean: number;
    peakBusy: number;
    meanBusy: number;
    /** By state, at the sample with the most busy connections. */
    busiestByState: Record<string, number>;
  } | null;
  /**
   * Busy backends of the bench database by client (application_name) and what they were doing,
   * averaged over the samples: "pledge on CPU 2.1" means two of pledge's backends were running on
   * average, "Lock:transactionid" is row-lock waiting, "idle in transaction" a transaction left
   * open while its service does something else (or waits for CPU).
   */
  pgActivity: Record<string, number> | null;
}

export interface CpuSamplerOptions {
  /** name → pid of each process to account for (the services, the harness itself). */
  processes: Record<string, number>;
  /** Monitor connection and database name: the backends serving that database become "postgres (bench db)". */
  pg?: { sql: postgres.Sql; database: string };
  intervalMs?: number;
}

const SHARED = {
  postgres: "postgres, all processes (shared)",
  redis: "redis-server (shared)",
  nats: "nats-server (shared)",
};
const PG_BENCH = "postgres (bench db backends)";

export class CpuSampler {
  private readonly samples: Sample[] = [];
  private readonly marks = new Map<string, Sample>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: CpuSamplerOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.pending = this.pending
        .then(() => this.sample())
        .then(
          () => undefined,
          () => undefined,
        );
    }, this.options.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pending;
  }

  /** Takes a sample now and remembers it under `name`. */
  async mark(name: string): Promise<void> {
    const s = await this.sample();
    this.marks.set(name, s);
  }

  private async sample(): Promise<Sample> {
    const groups = new Map<string, Map<number, number>>();
    const put = (group: string, pid: number) => {
      const ticks = processTicks(pid);
      if (ticks === null) return;
      const g = groups.get(group) ?? new Map<number, number>();
      groups.set(group, g);
      g.set(pid, ticks);
    };
    for (const [name, pid] of Object.entries(this.options.processes)) put(name, pid);
    const comm = { postgres: SHARED.postgres, "redis-server": SHARED.redis, "nats-server": SHARED.nats } as const;
    for (const [pid, name] of pidsByName(Object.keys(comm))) put(comm[name as keyof typeof comm], pid);
    let pgConnections: Record<string, number> | null = null;
    let pgActivity: Record<string, number> | null = null;
    if (this.options.pg) {
      try {
        const rows = await this.options.pg.sql<
          Array<{ pid: number; app: string; state: string | null; waitType: string | null; waitEvent: string | null }>
        >`select pid, application_name as app, state, wait_event_type as "waitType", wait_event as "waitEvent"
          from pg_stat_activity where datname = ${this.options.pg.database}`;
        pgConnections = {};
        pgActivity = {};
        for (const r of rows) {
          put(PG_BENCH, r.pid);
          const state = r.state ?? "unknown";
          pgConnections[state] = (pgConnections[state] ?? 0) + 1;
          if (state === "idle") continue;
          const doing = state !== "active" ? state : r.waitType ? `${r.waitType}:${r.waitEvent}` : "on CPU";
          const what = `${r.app || "?"} ${doing}`;
          pgActivity[what] = (pgActivity[what] ?? 0) + 1;
        }
      } catch {
        // The monitor connection is best effort.
      }
    }
    const s: Sample = { at: Date.now(), groups, machine: machineTicks(), pgConnections, pgActivity };
    this.samples.push(s);
    return s;
  }

  /** CPU used by each group between two marks, busiest first. */
  window(fromMark: string, toMark: string): CpuWindow {
    const a = this.marks.get(fromMark);
    const b = this.marks.get(toMark);
    if (!a || !b) throw new Error(`no CPU mark ${a ? toMark : fromMark}`);
    const seconds = (b.at - a.at) / 1000;
    const inside = this.samples.filter((s) => s.at >= a.at && s.at <= b.at);
    const names = new Set<string>();
    for (const s of inside) for (const g of s.groups.keys()) names.add(g);
    const rows: CpuRow[] = [];
    for (const name of names) {
      // Per pid: the last value seen up to the end mark minus the value at the start mark (0 when the
      // process appeared later: all of its CPU is inside the window). A process that ended inside the
      // window loses at most one sampling interval.
      const last = new Map<number, number>();
      for (const s of inside) for (const [pid, ticks] of s.groups.get(name) ?? []) last.set(pid, ticks);
      const start = a.groups.get(name) ?? new Map<number, number>();
      let ticks = 0;
      for (const [pid, end] of last) ticks += Math.max(0, end - (start.get(pid) ?? 0));
      const cpuSec = ticks / CLK_TCK;
      rows.push({
        name,
        cpuSec,
        pctOfCore: seconds > 0 ? (cpuSec / seconds) * 100 : 0,
        shared: name.endsWith("(shared)"),
      });
    }
    rows.sort((x, y) => y.cpuSec - x.cpuSec);
    const cores = cpus().length;
    const machine =
      a.machine && b.machine && b.machine.total > a.machine.total
        ? { cores, busyCores: ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * cores }
        : null;
    const conns = inside.map((s) => s.pgConnections).filter((c): c is Record<string, number> => c !== null);
    const total = (c: Record<string, number>) => Object.values(c).reduce((n, v) => n + v, 0);
    const busy = (c: Record<string, number>) => total(c) - (c.idle ?? 0);
    let pgConnections: CpuWindow["pgConnections"] = null;
    if (conns.length > 0) {
      const busiest = conns.reduce((best, c) => (busy(c) > busy(best) ? c : best));
      pgConnections = {
        peak: Math.max(...conns.map(total)),
        mean: conns.reduce((n, c) => n + total(c), 0) / conns.length,
        peakBusy: busy(busiest),
        meanBusy: conns.reduce((n, c) => n + busy(c), 0) / conns.length,
        busiestByState: busiest,
      };
    }
    const activity = inside.map((s) => s.pgActivity).filter((c): c is Record<string, number> => c !== null);
    let pgActivity: Record<string, number> | null = null;
    if (activity.length > 0) {
      const sums: Record<string, number> = {};
      for (const c of activity) for (const [k, v] of Object.entries(c)) sums[k] = (sums[k] ?? 0) + v;
      pgActivity = Object.fromEntries(
        Object.entries(sums)
          .sort((x, y) => y[1] - x[1])
          .map(([k, v]) => [k, Math.round((v / activity.length) * 100) / 100]),
      );
    }
    return { from: fromMark, to: toMark, seconds, rows, machine, pgConnections, pgActivity };
  }
}
