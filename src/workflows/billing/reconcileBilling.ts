import { continueAsNew, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { BILLING_CHECKS, type ReconcileBillingInput, type ReconcileBillingResult } from '../../billing/contract';
import { addBillingStep, describeBillingTally, emptyBillingTally } from '../../billing/reconciliationTally';

const { checkBillingPages, notifyBillingDifferences } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

/**
 * Started by the daily `billing-reconcile` Temporal Schedule: every billing check (charges, fee invoices, payouts,
 * invoice numbers; src/billing/reconciliation.ts) paged to the end, each activity a bounded number of pages. It
 * reports and never repairs: differences are logged and counted where found, the run's counts are its current
 * details and result, and the operators are told once when there are any. Continues as new when the history
 * grows long, carrying the cursor and the counts.
 */
export async function reconcileBilling(input: ReconcileBillingInput = {}): Promise<ReconcileBillingResult> {
  const scope = input.scope ?? {};
  let result = input.resume?.result ?? emptyBillingTally();
  const first = input.resume ? BILLING_CHECKS.indexOf(input.resume.check) : 0;
  for (let i = first; i < BILLING_CHECKS.length; i++) {
    const check = BILLING_CHECKS[i]!;
    let after = i === first && input.resume ? input.resume.after : null;
    do {
      const step = await checkBillingPages({ check, after, scope });
      result = addBillingStep(result, step);
      after = step.next;
      setCurrentDetails(`Checking ${check}: ${describeBillingTally(result)}`);
      if (after !== null && workflowInfo().continueAsNewSuggested) {
        return continueAsNew<typeof reconcileBilling>({ scope, resume: { check, after, result } });
      }
    } while (after !== null);
  }
  if (result.differences > 0) {
    const info = workflowInfo();
    await notifyBillingDifferences({ runKey: `${info.workflowId}:${info.firstExecutionRunId}`, result });
  }
  setCurrentDetails(`Done: ${describeBillingTally(result)}`);
  return result;
}
