import type { Knex } from 'knex';
import { pledgeRefusals } from './pledgeRefusals';
import type { TierRow } from './repository';

/**
 * Reward-tier slots. Postgres is the gate against overselling a limited tier: a slot is taken by one
 * conditional UPDATE, so no interleaving of requests ever claims more than `quantity`.
 */

type Conn = Knex | Knex.Transaction;

/** The campaign's tier for a pledge of `amountCents`: refused when it is another campaign's or the amount is below its minimum. */
export async function requireTierFor(db: Conn, campaignId: string, tierId: string, amountCents: number): Promise<TierRow> {
  const tier = (await db('reward_tiers').where({ id: tierId, campaign_id: campaignId }).first()) as TierRow | undefined;
  if (!tier) throw pledgeRefusals.invalidRewardTier();
  if (amountCents < tier.min_amount_cents) throw pledgeRefusals.belowRewardMinimum(tier.min_amount_cents);
  return tier;
}

export async function claimSlot(trx: Knex.Transaction, campaignId: string, tierId: string): Promise<void> {
  const claimed = await trx.raw<{ rows: unknown[] }>(
    `UPDATE reward_tiers SET claimed = claimed + 1
      WHERE id = ? AND campaign_id = ? AND (quantity IS NULL OR claimed < quantity) RETURNING id`,
    [tierId, campaignId],
  );
  if (claimed.rows.length === 0) throw pledgeRefusals.rewardSoldOut();
}

/** Gives a slot back; the caller's status guard makes sure each pledge gives its slot back once. */
export async function releaseSlot(q: Conn, tierId: string | null): Promise<void> {
  if (tierId) await q.raw('UPDATE reward_tiers SET claimed = claimed - 1 WHERE id = ? AND claimed > 0', [tierId]);
}
