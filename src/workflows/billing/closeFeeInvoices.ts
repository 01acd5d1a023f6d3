import { continueAsNew, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { CloseFeeInvoicesInput, CloseFeeInvoicesResult } from '../../billing/contract';

const { closeFeeInvoicePage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 10 },
});

/**
 * Started monthly by the `close-fee-invoices` Schedule: the platform's fee invoices of every month ended before the
 * run started (or `before`) are finalized, page by page (src/billing/feeInvoices.ts). Each finalization is its own
 * transaction and finalizing twice is a no-op, so a retried page or a replayed run numbers each invoice once.
 */
export async function closeFeeInvoices(input: CloseFeeInvoicesInput = {}): Promise<CloseFeeInvoicesResult> {
  const before = input.before ?? new Date(Date.now()).toISOString();
  let finalized = input.finalizedSoFar ?? 0;
  for (;;) {
    const page = await closeFeeInvoicePage({ before });
    finalized += page.finalized;
    setCurrentDetails(`Fee invoices of months ended before ${before}: ${finalized} finalized`);
    if (!page.more) break;
    if (workflowInfo().continueAsNewSuggested) return continueAsNew<typeof closeFeeInvoices>({ before, finalizedSoFar: finalized });
  }
  return { before, finalized };
}
