import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';

/**
 * Live campaign counters in Redis (pledged_cents, backer_count), rebuilt from Postgres when missing.
 * Postgres stays the truth. OWNER: campaigns work (stub signature).
 */
export interface CampaignTotals {
  pledged_cents: number;
  backer_count: number;
}

export async function applyTotalsDelta(_redis: RedisClient, _campaignId: string, _delta: { pledgedCents: number; backerCount: number }): Promise<void> {
  // STUB
}

export async function readTotals(deps: { db: Db; redis: RedisClient }, campaignId: string): Promise<CampaignTotals> {
  const row = await deps.db('campaigns').where({ id: campaignId }).first('pledged_cents', 'backer_count');
  return { pledged_cents: row?.pledged_cents ?? 0, backer_count: row?.backer_count ?? 0 }; // STUB
}
