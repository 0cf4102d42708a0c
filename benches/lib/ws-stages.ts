// Where the ws-fanout scenario's time goes between a capture and the sockets: a plain NATS
// subscriber (no JetStream consumer: it takes nothing from the services) that notes when each stage
// of the totals path appears on the bus — pledge.captured (the pledge service's outbox relay),
// campaign.totals_changed (the campaign service applied it, its relay published it) and the
// campaign.<id> live frame (the notification service applied that and pushed it to the gateways).
import { readdirSync, readFileSync } from "node:fs";
import { natsConnectOptions } from "@careforall/bus";
import { connect } from "@nats-io/transport-node";

/** Wall-clock ms (same clock as the pledges' `at` and the sockets' receipt times). */
const now = () => performance.timeOrigin + performance.now();

export interface StageProbe {
  /** pledgeId → when its pledge.captured event was on the bus. */
  captured: Map<string, number>;
  /** raisedMinor → when a campaign.totals_changed with it was first on the bus. */
  totalsChanged: Map<number, number>;
  /** raisedMinor → when a live campaign.totals frame with it was first on the bus. */
  live: Map<number, number>;
  close(): Promise<void>;
}

export async function startStageProbe(natsUrl: string, busPrefix: string, campaignId: string): Promise<StageProbe> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "bench-ws-stages" });
  const captured = new Map<string, number>();
  const totalsChanged = new Map<number, number>();
  const live = new Map<number, number>();
  const first = <K>(map: Map<K, number>, key: K, t: number) => {
    if (!map.has(key)) map.set(key, t);
  };
  nc.subscribe(`${busPrefix}.evt.pledge.captured`, {
    callback: (_err, msg) => {
      const t = now();
      const data = (msg.json() as { data?: { pledgeId?: string; campaignId?: string } }).data;
      if (data?.campaignId === campaignId && data.pledgeId) first(captured, data.pledgeId, t);
    },
  });
  nc.subscribe(`${busPrefix}.evt.campaign.totals_changed`, {
    callback: (_err, msg) => {
      const t = now();
      const data = (msg.json() as { data?: { id?: string; raisedMinor?: number } }).data;
      if (data?.id === campaignId && typeof data.raisedMinor === "number") first(totalsChanged, data.raisedMinor, t);
    },
  });
  nc.subscribe(`${busPrefix}.live.campaign.${campaignId}`, {
    callback: (_err, msg) => {
      const t = now();
      const frame = msg.json() as { raisedMinor?: number };
      if (typeof frame.raisedMinor === "number") first(live, frame.raisedMinor, t);
    },
  });
  await nc.flush();
  return {
    captured,
    totalsChanged,
    live,
    close: () => nc.close(),
  };
}

/** CPU time and run-queue wait (time runnable but not running) of a process, summed over its threads. */
export interface SchedTimes {
  cpuMs: number;
  waitMs: number;
}

/**
 * From /proc/<pid>/task/<tid>/schedstat ("ns on the CPU, ns waiting on a run queue, slices"): a
 * service whose wait grows as fast as its CPU time was starved for CPU, not slow by itself.
 */
export function schedTimes(pid: number): SchedTimes {
  let cpuNs = 0;
  let waitNs = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { cpuMs: Number.NaN, waitMs: Number.NaN };
  }
  for (const tid of tids) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(" ");
      cpuNs += Number(cpu);
      waitNs += Number(wait);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return { cpuMs: cpuNs / 1e6, waitMs: waitNs / 1e6 };
}
