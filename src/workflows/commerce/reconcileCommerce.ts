import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { type ReconcileResult, type ReconcileScope } from '../../commerce/contract';

const { voidOrphanedAuthorizations, releaseStaleReservations, startMissingHoldSweepers, correctHotCounters, recordMissingOrderCharges } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * Started by the `commerce-reconcile` Temporal Schedule (every RECONCILE_INTERVAL): voids checkout authorizations
 * left without an order, releases reservations nothing released in time, starts hold-expiry sweepers that are
 * not running, corrects drifted hot stock counters, and records the charge (and receipt) of captured orders the
 * checkout did not record one for.
 * Each step is idempotent, so a retried or overlapping run repairs nothing twice. `scope` narrows a run (tests).
 */
export async function reconcileCommerce(scope: ReconcileScope = {}): Promise<ReconcileResult> {
  const authorizationsVoided = await voidOrphanedAuthorizations(scope);
  // Reservations before counters: releasing moves stock, the counter check then sees the settled value.
  const reservationsReleased = await releaseStaleReservations(scope);
  // After the release: a sweeper started now releases the rest of what is due (and what it released is not counted).
  const sweepersStarted = await startMissingHoldSweepers();
  const countersCorrected = await correctHotCounters(scope);
  const chargesRecorded = await recordMissingOrderCharges(scope);
  setCurrentDetails(
    `Voided ${authorizationsVoided} orphaned authorizations, released ${reservationsReleased} stale reservations, started ${sweepersStarted} hold sweepers, corrected ${countersCorrected} hot counters, recorded ${chargesRecorded} missing order charges`,
  );
  return { authorizationsVoided, reservationsReleased, sweepersStarted, countersCorrected, chargesRecorded };
}
