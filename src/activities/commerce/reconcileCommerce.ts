import { createReconciliation } from '../../commerce/reconciliation';
import { thisRun } from '../repairRun';
import type { ActivityDeps } from '../../workers/deps';
import type { ReconcileScope } from '../../commerce/contract';

/**
 * The `reconcileCommerce` workflow's steps, adapters over src/commerce/reconciliation.ts.
 *
 * Served on the main task queue: only the voiding step reaches the payment provider (recording a missing order
 * charge is database work), and only for the rare
 * authorization a crashed checkout left behind, so it does not need the payments queue's rate limit.
 */
export function createReconciliationActivities(deps: ActivityDeps) {
  const reconciliation = createReconciliation(deps);
  return {
    voidOrphanedAuthorizations: (scope: ReconcileScope = {}) => reconciliation.voidOrphanedAuthorizations(scope, thisRun()),
    releaseStaleReservations: (scope: ReconcileScope = {}) => reconciliation.releaseStaleReservations(scope, thisRun()),
    startMissingHoldSweepers: () => reconciliation.startMissingHoldSweepers(thisRun()),
    correctHotCounters: (scope: ReconcileScope = {}) => reconciliation.correctHotCounters(scope, thisRun()),
    recordMissingOrderCharges: (scope: ReconcileScope = {}) => reconciliation.recordMissingOrderCharges(scope, thisRun()),
  };
}

