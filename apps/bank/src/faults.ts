// The live fault knobs. Reads are synchronous from memory (the money routes and the webhook
// sender consult them on every call); writes go to one database row so every replica converges
// on a PUT made through any of them, each refreshing its copy every FAULTS_SYNC_MS.
import type { Logger } from "@careforall/log";
import { eq, sql } from "drizzle-orm";
import { faultSettings } from "./db/schema";
import { type Faults, mergeFaults, normaliseFaults } from "./domain";
import type { BankDb } from "./ledger";

const ROW_ID = 1;

export interface FaultStore {
  /** The knobs as this process last saw them; no I/O. */
  current(): Faults;
  /** Applies a partial change (atomically merged into the shared row) and returns the result. */
  update(patch: Partial<Faults>): Promise<Faults>;
  /** Overwrites the shared row (main: the BANK_* environment at start). */
  replace(faults: Faults): Promise<Faults>;
  /** Re-reads the shared row; keeps the current knobs when there is none yet. */
  refresh(): Promise<Faults>;
  /** Refreshes periodically until stop(). */
  startSync(intervalMs: number, log: Logger): void;
  stop(): void;
}

export function createFaultStore({ db, initial }: { db: BankDb; initial: Faults }): FaultStore {
  let faults = { ...initial };
  let timer: ReturnType<typeof setInterval> | undefined;

  async function refresh(): Promise<Faults> {
    const [row] = await db.select().from(faultSettings).where(eq(faultSettings.id, ROW_ID));
    if (row) faults = normaliseFaults(row.settings, faults);
    return faults;
  }

  return {
    current: () => faults,
    async update(patch) {
      const clean = mergeFaults({} as Faults, patch);
      // jsonb `||` merges the patch into whatever the row holds now, so concurrent PUTs of different
      // knobs from different replicas both land.
      const [row] = await db
        .insert(faultSettings)
        .values({ id: ROW_ID, settings: { ...mergeFaults(faults, patch) } })
        .onConflictDoUpdate({
          target: faultSettings.id,
          set: { settings: sql`${faultSettings.settings} || ${JSON.stringify(clean)}::jsonb`, updatedAt: sql`now()` },
        })
        .returning();
      faults = normaliseFaults(row?.settings, faults);
      return faults;
    },
    async replace(next) {
      const [row] = await db
        .insert(faultSettings)
        .values({ id: ROW_ID, settings: { ...next } })
        .onConflictDoUpdate({ target: faultSettings.id, set: { settings: { ...next }, updatedAt: sql`now()` } })
        .returning();
      faults = normaliseFaults(row?.settings, next);
      return faults;
    },
    refresh,
    startSync(intervalMs, log) {
      if (timer) return;
      timer = setInterval(() => {
        refresh().catch((err) => log.warn({ err }, "faults.refresh_failed"));
      }, intervalMs);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
