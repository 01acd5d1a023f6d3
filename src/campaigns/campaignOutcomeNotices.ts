import type { Knex } from 'knex';
import { formatMoney, SLOT_HOLDING_PLEDGE_STATUSES, type Outcome } from '../domain/campaigns';
import { enqueueCreatorWebhook, notify, notifyBackers } from '../notifications/notify';
import type { CampaignRow } from './repository';

/**
 * Who hears of a campaign's decision, and what: every backer with an open pledge, the owner (in-app), and the
 * owner's webhook. Written in the deciding transaction, deduplicated per campaign and outcome, so a retried
 * decision tells no one twice.
 */

const OUTCOME_TEXT: Record<Outcome, { title: (t: string) => string; body: string }> = {
  succeeded: {
    title: (t) => `"${t}" was funded`,
    body: 'The campaign reached its goal. Your pledge will now be collected.',
  },
  failed: {
    title: (t) => `"${t}" did not reach its goal`,
    body: 'The campaign ended below its goal. You will not be charged; any hold on your card is released.',
  },
  cancelled: {
    title: (t) => `"${t}" was cancelled`,
    body: 'The creator cancelled the campaign. You will not be charged; any hold on your card is released.',
  },
};

/** Tells the backers, the owner and the owner's webhook of `outcome`; returns how many backers were newly told. */
export async function tellOutcome(trx: Knex.Transaction, row: CampaignRow, outcome: Outcome): Promise<number> {
  const text = OUTCOME_TEXT[outcome];
  const pledged = formatMoney(Number(row.pledged_cents), row.currency);
  const goal = formatMoney(Number(row.goal_cents), row.currency);
  // Everyone with an open pledge learns the outcome; closed pledges (cancelled, declined) are done.
  const notified = await notifyBackers(trx, {
    campaignId: row.id,
    pledgeStatuses: SLOT_HOLDING_PLEDGE_STATUSES,
    type: `campaign_${outcome}`,
    title: text.title(row.title),
    body: text.body,
    dedupePrefix: `campaign_${outcome}:${row.id}`,
  });
  await notify(trx, {
    userId: row.owner_id,
    type: `campaign_${outcome}`,
    title: text.title(row.title),
    body: `Pledged ${pledged} of ${goal} from ${row.backer_count} backers.`,
    data: { campaign_id: row.id, pledged_cents: Number(row.pledged_cents), goal_cents: Number(row.goal_cents) },
    dedupeKey: `campaign_owner_${outcome}:${row.id}`,
  });
  await enqueueCreatorWebhook(trx, {
    campaignId: row.id,
    event: `campaign.${outcome}`,
    data: {
      campaign_id: row.id,
      outcome,
      pledged_cents: Number(row.pledged_cents),
      backer_count: Number(row.backer_count),
      goal_cents: Number(row.goal_cents),
      currency: row.currency,
    },
    dedupeKey: `campaign_${outcome}:${row.id}`,
  });
  return notified;
}
