// Ended sessions at every verifier: when a session (a refresh-token family) ends — logout, or a
// reused refresh token revoking its family — its id goes into the shared denylist for as long as
// any of its access tokens can live, so the gateway refuses them at once instead of for 15 minutes.
// PostgreSQL (refresh_tokens.revoked_at) is the record; the denylist is a copy that the resync
// rewrites, so a failed write or a Redis restarted empty is repaired within one interval.
import type { Clock } from "@careforall/config";
import type { SessionDenylist } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { gt, max } from "drizzle-orm";
import { refreshTokens } from "./db/schema";
import type { AuthDatabase } from "./service";

/** Margin for clocks that differ between auth and a verifier (jose checks `exp` on the verifier's clock). */
export const CLOCK_SKEW_SECONDS = 30;

export interface EndedSessionsDeps {
  db: AuthDatabase;
  clock: Clock;
  log: Logger;
  /** Absent: sessions end only at the refresh token (access tokens run out on their own). */
  denylist?: SessionDenylist;
  accessTokenTtlSeconds: number;
}

export function createEndedSessions({ db, clock, log, denylist, accessTokenTtlSeconds }: EndedSessionsDeps) {
  const windowSeconds = accessTokenTtlSeconds + CLOCK_SKEW_SECONDS;

  return {
    /** How long a denylist entry must live after its session ended. */
    windowSeconds,

    /**
     * Denylists sessions that ended just now. Never throws: the revocation has committed in
     * PostgreSQL, and a write that failed here is repaired by the next resync.
     */
    async ended(sessionIds: readonly string[]): Promise<void> {
      if (!denylist || sessionIds.length === 0) return;
      try {
        await denylist.revoke(sessionIds, windowSeconds);
      } catch (err) {
        log.warn({ err, sessions: sessionIds.length }, "session_denylist.write_failed");
      }
    },

    /**
     * Writes every session that ended within the window again, each for what is left of its
     * window. Returns how many were written; throws when the denylist cannot be written.
     */
    async resync(): Promise<number> {
      if (!denylist) return 0;
      const now = clock.now();
      const rows = await db
        .select({ familyId: refreshTokens.familyId, revokedAt: max(refreshTokens.revokedAt) })
        .from(refreshTokens)
        .where(gt(refreshTokens.revokedAt, new Date(now - windowSeconds * 1000)))
        .groupBy(refreshTokens.familyId);
      await Promise.all(
        rows.map(({ familyId, revokedAt }) => {
          const left = Math.ceil(((revokedAt?.getTime() ?? now) + windowSeconds * 1000 - now) / 1000);
          return left > 0 ? denylist.revoke([familyId], left) : undefined;
        }),
      );
      return rows.length;
    },
  };
}

export type EndedSessions = ReturnType<typeof createEndedSessions>;
