import type { Knex } from 'knex';
import type { Config } from '../config';
import { formatMoney } from '../domain/campaigns';
import { crowdfundingFeeRule, platformFeeCents } from '../domain/platformFees';
import { recordOneLineCharge, type ReceiptNotice } from './receiptNotices';

/**
 * A collected pledge as a seller charge (issue 13): seller = the campaign's creator, fee =
 * PLATFORM_FEE_CROWDFUNDING_BPS of what was collected, one receipt line "Pledge to <campaign title>" (and the reward
 * tier) at tax rate 0: pledges are charged as pledged, no tax is added on top. The money is pending until the
 * campaign is settled, then available PAYOUT_DELAY_CAMPAIGN after settled_at (src/campaigns/campaignLifecycleSteps.ts
 * fixes it in the settling transaction; a pledge collected later, in its dropped-pledge window, reads settled_at).
 *
 * The campaign row is read FOR SHARE: a settlement committing at the same moment either waits for this charge (then
 * makes it available with the others) or is waited for (then this charge reads its settled_at).
 */
export interface CollectedPledge {
  pledgeId: string;
  campaignId: string;
  backerId: string;
  currency: string;
  capturedCents: number;
  /** payments.business_key of the capture or charge. */
  paymentKey: string;
  provider: string;
  providerId: string;
}

export type PledgeChargeSettings = Pick<Config, 'TAX_RATES_BPS' | 'ISSUE_RECEIPTS' | 'PLATFORM_FEE_CROWDFUNDING_BPS' | 'PAYOUT_DELAY_CAMPAIGN'>;

/** The receipt's one line; the deferred batch (src/billing/pledgeReceipts.ts) writes the very same. */
export const pledgeReceiptDescription = (campaignTitle: string, tierTitle: string | null | undefined) => `Pledge to ${campaignTitle}${tierTitle ? ` (${tierTitle})` : ''}`;

/** The backer's `pledge_collected` notice (the receipt's id and number are added to its data by whoever issues it). */
export function pledgeCollectedNotice(p: Pick<CollectedPledge, 'pledgeId' | 'campaignId' | 'backerId' | 'currency' | 'capturedCents'>, campaignTitle: string): ReceiptNotice {
  return {
    userId: p.backerId,
    type: 'pledge_collected',
    title: `Your pledge to ${campaignTitle} was charged`,
    body: `We charged ${formatMoney(p.capturedCents, p.currency)} for your pledge to ${campaignTitle}.`,
    data: { pledge_id: p.pledgeId, campaign_id: p.campaignId, amount_cents: p.capturedCents, currency: p.currency.toUpperCase() },
    dedupeKey: `pledge_collected:${p.pledgeId}`,
  };
}

/** receipt 'deferred': the settlement batch issues receipts (and notices) per page, see src/billing/pledgeReceipts.ts. */
export async function recordPledgeCharge(trx: Knex.Transaction, p: CollectedPledge, settings: PledgeChargeSettings, receipt: 'now' | 'deferred' = 'now'): Promise<void> {
  const campaign = (await trx('campaigns').where({ id: p.campaignId }).forShare().first('owner_id', 'title', 'settled_at')) as {
    owner_id: string;
    title: string;
    settled_at: Date | null;
  };
  // Deferred, the receipt line is written by the batch (which reads the tier itself): one statement less here.
  const tier =
    receipt === 'deferred'
      ? undefined
      : ((await trx('pledges as p').join('reward_tiers as t', 't.id', 'p.reward_tier_id').where('p.id', p.pledgeId).first('t.title')) as { title: string } | undefined);
  const description = pledgeReceiptDescription(campaign.title, tier?.title);
  await recordOneLineCharge(
    trx,
    {
      source: { kind: 'pledge', id: p.pledgeId },
      sellerUserId: campaign.owner_id,
      customerUserId: p.backerId,
      currency: p.currency,
      capturedCents: p.capturedCents,
      feeCents: platformFeeCents(p.capturedCents, crowdfundingFeeRule(settings)),
      paymentKey: p.paymentKey,
      description,
      availableAt: campaign.settled_at ? new Date(campaign.settled_at.getTime() + settings.PAYOUT_DELAY_CAMPAIGN) : 'pending',
      ledger: { provider: p.provider, providerId: p.providerId, campaignId: p.campaignId, pledgeId: p.pledgeId },
      receipt,
    },
    pledgeCollectedNotice(p, campaign.title),
    settings,
  );
}
