import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../../activities';

const { purgeIdempotencyKeys, purgeEndedSessions } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * Housekeeping started by the `maintenance-purge` Temporal Schedule (a schedule, not a cron loop, so an
 * operator can pause, trigger or backfill it from the Web UI).
 */
export async function purgeExpiredRecords(): Promise<{ idempotencyKeysPurged: number; sessionRecordsPurged: number }> {
  const idempotencyKeysPurged = await purgeIdempotencyKeys();
  const sessionRecordsPurged = await purgeEndedSessions();
  setCurrentDetails(`Purged ${idempotencyKeysPurged} expired idempotency keys and ${sessionRecordsPurged} ended-session records`);
  return { idempotencyKeysPurged, sessionRecordsPurged };
}
