import { Context } from '@temporalio/activity';
import type { BillingCheck, BillingCheckStep, BillingReconcileScope, ReconcileBillingResult } from '../../billing/contract';
import { createBillingReconciliation } from '../../billing/reconciliation';
import type { ActivityDeps } from '../../workers/deps';

/** Pages of one check per activity: bounded work (here up to 10 × 500 rows), a heartbeat after each page. */
export const BILLING_PAGES_PER_ACTIVITY = 10;

/**
 * The `reconcileBilling` workflow's steps, adapters over src/billing/reconciliation.ts. Main task queue: they
 * read Postgres only (the simulated gateway's records are rows there too; Stripe's are not called).
 * A retried step resumes from its last heartbeat (cursor and counts so far), so pages already checked are not
 * checked (nor their differences counted) again.
 */
export function createBillingReconciliationActivities(deps: ActivityDeps) {
  const reconciliation = createBillingReconciliation(deps);
  return {
    checkBillingPages: (input: { check: BillingCheck; after: string | null; scope?: BillingReconcileScope }): Promise<BillingCheckStep> => {
      const ctx = Context.current();
      const resume = ctx.info.heartbeatDetails as BillingCheckStep | undefined;
      return reconciliation.checkPages({
        check: input.check,
        scope: input.scope ?? {},
        after: input.after,
        pages: BILLING_PAGES_PER_ACTIVITY,
        ...(resume ? { resume } : {}),
        beat: (soFar) => ctx.heartbeat(soFar),
      });
    },
    notifyBillingDifferences: (input: { runKey: string; result: ReconcileBillingResult }): Promise<number> => reconciliation.notifyOperators(input),
  };
}

/** Payments task queue: nothing (the reconciliation makes no provider call). */
export function createBillingReconciliationPaymentActivities(_deps: ActivityDeps) {
  return {};
}
