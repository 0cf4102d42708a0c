// Interleaved measurement: every round runs each target in turn (baseline first), each after an
// unrecorded warm-up, so slow drifts of the machine (thermal, noisy neighbours, the other
// processes sharing the 2 cores) hit all targets alike and the ratio stays meaningful.
import { runLoad } from "./load";
import type { BenchOptions, TargetResult } from "./types";

export interface MeasureTarget {
  name: string;
  /** Human description for the report, e.g. "GET /api/campaigns/:id". */
  request: string;
  url: string;
  baseline?: boolean;
  headers?: Record<string, string>;
}

export async function measureInterleaved(options: BenchOptions, targets: MeasureTarget[]): Promise<TargetResult[]> {
  const results: TargetResult[] = targets.map((t) => ({
    name: t.name,
    request: t.request,
    url: t.url,
    baseline: t.baseline ?? false,
    rounds: [],
  }));
  const load = { connections: options.connections, threads: options.threads, signal: options.signal };
  for (let round = 1; round <= options.rounds; round++) {
    for (const [i, target] of targets.entries()) {
      options.signal.throwIfAborted();
      const tag = `round ${round}/${options.rounds} ${target.name}`;
      if (options.warmupSec > 0) {
        options.log(`${tag}: warm-up ${options.warmupSec}s`);
        const warm = await runLoad({
          ...load,
          url: target.url,
          headers: target.headers,
          durationSec: options.warmupSec,
        });
        if (warm.errors > 0)
          options.log(`${tag}: warm-up saw ${warm.errors} errors ${JSON.stringify(warm.errorDetail)}`);
      }
      options.signal.throwIfAborted();
      const r = await runLoad({ ...load, url: target.url, headers: target.headers, durationSec: options.durationSec });
      results[i]?.rounds.push(r);
      options.log(
        `${tag}: ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
          `${r.errors} errors${r.errors > 0 ? ` ${JSON.stringify(r.errorDetail)}` : ""}`,
      );
    }
  }
  return results;
}
