import type { ActivityDeps } from '../../workers/deps';
import { purgeExpiredIdempotencyKeys } from '../../infra/idempotencyKeys';
import { purgeEndedSessions } from '../../accounts/purgeSessions';

export function createMaintenanceActivities(deps: ActivityDeps) {
  return {
    /** Deletes idempotency records past their retention (at least 24 h, IDEMPOTENCY_KEY_TTL_HOURS). */
    async purgeIdempotencyKeys(): Promise<number> {
      const purged = await purgeExpiredIdempotencyKeys(deps.db);
      deps.metrics.counter('idempotency_keys_purged_total', 'Idempotency records deleted after their retention').inc(purged);
      deps.logger.info({ purged }, 'purged expired idempotency keys');
      return purged;
    },

    /** Deletes expired refresh tokens and emailed links, and sessions ended more than a day ago. */
    async purgeEndedSessions(): Promise<number> {
      const purged = await purgeEndedSessions(deps.db);
      deps.logger.info(purged, 'purged ended sessions');
      return purged.refreshTokens + purged.linkTokens + purged.sessions;
    },
  };
}
