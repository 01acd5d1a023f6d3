import { refusals } from '../domain/errors';
import { declineReason, paymentOutcome } from '../payments/outcomes';
import type { PaymentRecord } from '../payments/paymentRecords';

const paymentDeclined = (pledgeId: string, declineCode: string | null, message?: string | null) =>
  refusals.payment('payment_declined', 'Payment declined', message ?? 'The card was declined.', { pledge_id: pledgeId, decline_code: declineCode });

/**
 * The refusals the pledge services share (create, confirm, edit, cancel, card replacement), so each code
 * has one wording whichever path answers it.
 */
export const pledgeRefusals = {
  campaignNotLive: () => refusals.unprocessable('campaign_not_live', 'The campaign is not accepting pledges or changes.'),
  rewardSoldOut: () => refusals.conflict('reward_sold_out', 'Every slot of this reward tier is taken.'),
  invalidRewardTier: () => refusals.unprocessable('invalid_reward_tier', 'This reward tier does not belong to the campaign.'),
  belowRewardMinimum: (min: number) =>
    refusals.unprocessable('below_reward_minimum', `This reward tier needs at least ${min} cents.`, { min_amount_cents: min }),
  wouldDropBelowGoal: () =>
    refusals.conflict('would_drop_below_goal', 'So close to the deadline, this change would take the campaign below its goal.'),
  pledgeChanged: () => refusals.conflict('pledge_changed', 'The pledge was changed by another request; reload it and try again.'),
  alreadyPledged: (pledgeId: string | null) =>
    refusals.conflict('already_pledged', 'You already back this campaign; change that pledge instead.', { pledge_id: pledgeId }),
  notUpdatable: (status: string) =>
    refusals.conflict(
      'pledge_not_updatable',
      `The pledge is ${status}; its payment method can change only while the campaign is live or during the dropped-pledge window.`,
    ),
  paymentDeclined,
  /**
   * A card that could not be saved or held where no confirm step follows (edits, card changes): one that
   * needs authentication is as refused as a declined one, and the pledge stays as it was.
   */
  cardRefused: (pledgeId: string, record: PaymentRecord, detail: string | null) =>
    paymentDeclined(pledgeId, paymentOutcome(record) === 'requires_action' ? 'authentication_required' : declineReason(record), detail),
};
