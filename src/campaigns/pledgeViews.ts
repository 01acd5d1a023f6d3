import type { PledgeRow } from './pledgeRow';

/** What any caller allowed to see a pledge gets: never the card token or provider ids. */
export function pledgeJson(row: PledgeRow) {
  return {
    id: row.id,
    campaign_id: row.campaign_id,
    backer_id: row.backer_id,
    reward_tier_id: row.reward_tier_id,
    amount_cents: row.amount_cents,
    currency: row.currency.trim(),
    status: row.status,
    payment_mode: row.payment_mode,
    failure_code: row.failure_code,
    drop_deadline: row.drop_deadline?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    collected_at: row.collected_at?.toISOString() ?? null,
    cancelled_at: row.cancelled_at?.toISOString() ?? null,
  };
}
export type PledgeJson = ReturnType<typeof pledgeJson>;
