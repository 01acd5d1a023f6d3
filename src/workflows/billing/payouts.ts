import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import { payoutRequestedSignal, type PayoutOutcome, type PayoutRunInput, type SellerPayoutStatus, type SellerPayoutsInput } from '../../billing/contract';
import { formatMoney } from '../../domain/campaigns';
import { Status } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';

const { payoutRunPage, prepareSellerPayouts } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

const DEFAULT_PAGE = 100;

/**
 * Started by the weekly `payouts` Schedule (or by hand): pages through the sellers with money due and asks each
 * one's `payouts:<seller>` workflow to pay out for this run (src/billing/payoutRuns.ts). The run key names the
 * run in every payout's business key, so a retried page or a rerun of the same key pays nothing twice.
 */
export async function payoutRun(input: PayoutRunInput = {}): Promise<{ runKey: string; sellers: number }> {
  const runKey = input.runKey ?? `run-${workflowInfo().firstExecutionRunId}`;
  const limit = input.pageSize ?? DEFAULT_PAGE;
  let after = input.after ?? null;
  let started = input.started ?? 0;
  for (;;) {
    const page = await payoutRunPage({ runKey, after, limit, ...(input.sellerUserIds ? { sellerUserIds: input.sellerUserIds } : {}) });
    started += page.sellers;
    after = page.next;
    setCurrentDetails(`Payout run ${runKey}: ${started} sellers asked to pay out${after ? ', paging on' : ''}`);
    if (!after) return { runKey, sellers: started };
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof payoutRun>({ ...input, runKey, after, started });
  }
}

/**
 * `payouts:<seller>`: pays out one seller, one run at a time, as runs ask (payoutRequested signals, each run key
 * served once). Per run: prepareSellerPayouts (the payout rows and their balance entries, one transaction under the
 * seller's lock), then each scheduled payout's transfer on the payments queue (sendSellerPayout: same key, same
 * transfer; the outcome recorded once). An outage is retried with backoff; if it outlasts the retries the payout
 * stays scheduled and the next run sends it again. Ends when no run is waiting (a later run starts it again);
 * continues as new when the history grows. Status search attribute: paying, then the last run's outcome.
 */
export async function sellerPayouts(input: SellerPayoutsInput): Promise<{ runs: string[] }> {
  const { sendSellerPayout } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: input.transferTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 10 },
  });
  const pending: string[] = [...(input.pending ?? [])];
  const served: string[] = [];
  setHandler(payoutRequestedSignal, ({ runKey }) => {
    if (!served.includes(runKey) && !pending.includes(runKey)) pending.push(runKey);
  });
  const status = (value: SellerPayoutStatus) => upsertSearchAttributes([{ key: Status, value }]);

  // Signals of the start (signal-with-start) are delivered before the first await.
  await condition(() => pending.length > 0, '1 minute');
  while (pending.length > 0) {
    const runKey = pending.shift()!;
    served.push(runKey);
    status('paying');
    setCurrentDetails(`Run ${runKey}: working out what is available`);
    const plan = await prepareSellerPayouts({ sellerUserId: input.sellerUserId, runKey });
    if (plan.outcome !== 'payouts') {
      status(plan.outcome === 'no_account' ? 'waiting_for_account' : 'nothing_due');
      setCurrentDetails(`Run ${runKey}: ${plan.outcome === 'no_account' ? 'money is due but the payout account is not ready (seller told)' : 'nothing available to pay out'}`);
      continue;
    }
    const lines: string[] = [];
    let allPaid = true;
    for (const payoutId of plan.payoutIds) {
      try {
        const outcome: PayoutOutcome = await sendSellerPayout({ payoutId });
        allPaid &&= outcome.status === 'paid';
        lines.push(`${formatMoney(outcome.amountCents, outcome.currency)} ${outcome.status}${outcome.failureCode ? ` (${outcome.failureCode})` : ''}`);
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        allPaid = false;
        lines.push(`payout ${payoutId}: the provider could not be reached; it stays scheduled for the next run`);
      }
    }
    status(allPaid ? 'paid' : 'failed');
    setCurrentDetails(`Run ${runKey}: ${lines.join('; ')}`);
    if (pending.length > 0 && workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof sellerPayouts>({ ...input, pending });
    }
  }
  await condition(allHandlersFinished);
  return { runs: served };
}
