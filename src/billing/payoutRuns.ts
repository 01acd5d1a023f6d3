import type { ServiceDeps } from '../infra/serviceDeps';
import { SellerId, Status } from '../temporal/searchAttributes';
import { sellersDueForPayout } from './balances';
import { PAYOUTS_WORKFLOW, payoutRequestedSignal, payoutsWorkflowId, type PayoutRequest, type SellerPayoutsInput } from './contract';

/**
 * A payout run (workflow payoutRun, started by the weekly Schedule) visits the sellers with money due a page at a
 * time and asks each seller's own workflow `payouts:<seller>` to pay out for the run: a signal-with-start, so a
 * seller whose workflow still runs (an earlier run's transfer being retried) is only told, and one with none gets a
 * new one. The seller's workflow serves each run key once; the payout rows are idempotent per run key anyway.
 */

export type PayoutRunDeps = Pick<ServiceDeps, 'db' | 'config' | 'temporal'>;

export async function requestSellerPayout(deps: PayoutRunDeps, sellerUserId: string, runKey: string): Promise<void> {
  const { config } = deps;
  const input: SellerPayoutsInput = { sellerUserId, transferTimeoutMs: config.PAYMENT_STEP_TIMEOUT };
  await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
    client.workflow.signalWithStart<(i: SellerPayoutsInput) => Promise<unknown>, [PayoutRequest]>(PAYOUTS_WORKFLOW, {
      workflowId: payoutsWorkflowId(sellerUserId),
      taskQueue: config.TASK_QUEUE,
      args: [input],
      signal: payoutRequestedSignal,
      signalArgs: [{ runKey }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: SellerId, value: sellerUserId.toLowerCase() },
        { key: Status, value: 'paying' },
      ],
      staticSummary: `Payouts to seller ${sellerUserId}: each run pays out the available balance per currency`,
    }),
  );
}

/** One page of a run: asks each due seller's workflow to pay out; returns the cursor of the next page (null: done). */
export async function payoutRunPage(
  deps: PayoutRunDeps,
  input: { runKey: string; after: string | null; limit: number; sellerUserIds?: string[] },
): Promise<{ sellers: number; next: string | null }> {
  const sellers = await sellersDueForPayout(deps.db, input.after, input.limit, input.sellerUserIds);
  for (const seller of sellers) await requestSellerPayout(deps, seller, input.runKey);
  return { sellers: sellers.length, next: sellers.length === input.limit ? sellers[sellers.length - 1]! : null };
}
