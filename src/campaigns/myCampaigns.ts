import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { newestFirstPage } from './keysetCursor';
import { CAMPAIGN_COLUMNS, campaignJson, tiersFor, type CampaignJson, type CampaignRow } from './repository';

/**
 * GET /v1/me/campaigns: the caller's own campaigns in every status, drafts included, newest first; totals from the
 * rows (one query for the page; Postgres is the truth), the owner's private fields included.
 */
export async function listMyCampaigns(db: Db, caller: Principal, page: { limit: number; cursor?: string }): Promise<{ data: CampaignJson[]; next_cursor: string | null }> {
  const q = db('campaigns').select(CAMPAIGN_COLUMNS).where('owner_id', caller.id);
  const { rows, nextCursor } = await newestFirstPage<CampaignRow>(db, q, { time: 'created_at', id: 'id' }, page);
  const tiers = await tiersFor(db, rows.map((r) => r.id));
  const now = new Date();
  const data = rows.map((row) =>
    campaignJson(row, tiers.get(row.id) ?? [], { pledged_cents: Number(row.pledged_cents), backer_count: Number(row.backer_count) }, now, { includePrivate: true }),
  );
  return { data, next_cursor: nextCursor };
}
