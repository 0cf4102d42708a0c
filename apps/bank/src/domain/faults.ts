// The chaos knobs and the pure decisions they drive. Randomness is injected (`random`), so every
// decision is reproducible in tests; a rate of 0 never draws, a rate of 1 always fires.

export interface Faults {
  /** Share of money calls answered 503 before doing anything. */
  errorRate: number;
  /** Share of money calls that do the work and commit, then answer 5xx. */
  lostResponseRate: number;
  /** Delay before handling each money call. */
  latencyMs: number;
  /** Share of webhooks sent twice. */
  webhookDuplicateRate: number;
  /** Hold some webhooks back once, so later ones overtake them. */
  webhookReorder: boolean;
  /** Share of webhooks marked delivered without being sent. */
  webhookDropRate: number;
}

export const NO_FAULTS: Faults = {
  errorRate: 0,
  lostResponseRate: 0,
  latencyMs: 0,
  webhookDuplicateRate: 0,
  webhookReorder: false,
  webhookDropRate: 0,
};

export type FaultKind =
  | "error"
  | "lost_response"
  | "latency"
  | "webhook_duplicate"
  | "webhook_reorder"
  | "webhook_drop";

export type Random = () => number;

/** True with probability `rate`; draws only when 0 < rate < 1 so rates of 0 and 1 are exact. */
export function fires(rate: number, random: Random): boolean {
  if (!(rate > 0)) return false;
  if (rate >= 1) return true;
  return random() < rate;
}

/** Status of a lost response: the work is committed but the caller sees a server failure. */
export function lostResponseStatus(random: Random): 500 | 502 {
  return random() < 0.5 ? 500 : 502;
}

/** Merges a partial update into the current knobs (validation of ranges is the schema's job). */
export function mergeFaults(current: Faults, patch: Partial<Faults>): Faults {
  const next = { ...current };
  for (const key of Object.keys(NO_FAULTS) as Array<keyof Faults>) {
    if (patch[key] !== undefined) (next as Record<keyof Faults, unknown>)[key] = patch[key];
  }
  return next;
}

/** Reads stored knobs defensively (a row written by another version may lack fields). */
export function normaliseFaults(value: unknown, fallback: Faults = NO_FAULTS): Faults {
  const v = (value ?? {}) as Record<string, unknown>;
  const rate = (x: unknown, d: number) => (typeof x === "number" && x >= 0 && x <= 1 ? x : d);
  return {
    errorRate: rate(v.errorRate, fallback.errorRate),
    lostResponseRate: rate(v.lostResponseRate, fallback.lostResponseRate),
    latencyMs:
      typeof v.latencyMs === "number" && Number.isInteger(v.latencyMs) && v.latencyMs >= 0
        ? v.latencyMs
        : fallback.latencyMs,
    webhookDuplicateRate: rate(v.webhookDuplicateRate, fallback.webhookDuplicateRate),
    webhookReorder: typeof v.webhookReorder === "boolean" ? v.webhookReorder : fallback.webhookReorder,
    webhookDropRate: rate(v.webhookDropRate, fallback.webhookDropRate),
  };
}

export function faultsFromConfig(config: {
  BANK_ERROR_RATE: number;
  BANK_LOST_RESPONSE_RATE: number;
  BANK_LATENCY_MS: number;
  BANK_WEBHOOK_DUPLICATE_RATE: number;
  BANK_WEBHOOK_REORDER: boolean;
  BANK_WEBHOOK_DROP_RATE: number;
}): Faults {
  return {
    errorRate: config.BANK_ERROR_RATE,
    lostResponseRate: config.BANK_LOST_RESPONSE_RATE,
    latencyMs: config.BANK_LATENCY_MS,
    webhookDuplicateRate: config.BANK_WEBHOOK_DUPLICATE_RATE,
    webhookReorder: config.BANK_WEBHOOK_REORDER,
    webhookDropRate: config.BANK_WEBHOOK_DROP_RATE,
  };
}
