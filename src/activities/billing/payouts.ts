import type { ActivityDeps } from '../../workers/deps';
import type { PayoutOutcome, PayoutPlan } from '../../billing/contract';
import { payoutRunPage } from '../../billing/payoutRuns';
import { preparePayouts, sendPayout } from '../../billing/payouts';

/** Payout runs and `payouts:<seller>` (src/billing/payouts.ts says what each step guarantees). Main task queue. */
export function createPayoutActivities(deps: ActivityDeps) {
  return {
    /** One page of sellers with money due, each asked to pay out for the run. */
    payoutRunPage: (input: { runKey: string; after: string | null; limit: number; sellerUserIds?: string[] }) => payoutRunPage(deps, input),
    /** The run's payouts of one seller, in one transaction under the seller's lock. */
    prepareSellerPayouts: (input: { sellerUserId: string; runKey: string }): Promise<PayoutPlan> => preparePayouts(deps.db, input.sellerUserId, input.runKey),
  };
}

/** Payments task queue: the transfer, under the payout's business key, and its outcome recorded once. */
export function createPayoutPaymentActivities(deps: ActivityDeps) {
  return {
    sendSellerPayout: (input: { payoutId: string }): Promise<PayoutOutcome> => sendPayout(deps, input.payoutId),
  };
}
