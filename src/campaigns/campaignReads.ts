import { requirePrincipal } from '../accounts/authorization';
import { percentFunded, type CampaignCategory, type CampaignStatus } from '../domain/campaigns';
import { refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import { requireVisibleCampaign } from './campaignAccess';
import { readTotals } from './liveTotals';
import { campaignJson, findCampaign, listCampaigns, tiersFor, type CampaignJson, type CampaignRow } from './repository';

/** Campaigns as readers see them: one with live totals, a filtered page, the live-progress snapshot. */

export interface CampaignListQuery {
  category?: CampaignCategory;
  status?: CampaignStatus;
  startsAfter?: Date;
  q?: string;
  limit: number;
  cursor?: string;
}

export function createCampaignReads(deps: { db: Db; redis: RedisClient }) {
  const { db } = deps;
  const includePrivate = (row: CampaignRow, principal: Principal | undefined) => principal !== undefined && canManage(principal, row.owner_id);

  async function render(row: CampaignRow, principal: Principal | undefined): Promise<CampaignJson> {
    const [tiers, totals] = await Promise.all([tiersFor(db, [row.id]), readTotals(deps, row.id)]);
    return campaignJson(row, tiers.get(row.id) ?? [], totals, new Date(), { includePrivate: includePrivate(row, principal) });
  }

  return {
    /** A campaign the caller may see (drafts: its owner and operators), with live totals. */
    async getCampaign(id: string, principal: Principal | undefined): Promise<CampaignJson> {
      return render(requireVisibleCampaign(await findCampaign(db, id), principal), principal);
    },

    /** The campaign as it is now, for the caller that just changed it. */
    async campaignAfterChange(id: string, principal: Principal | undefined): Promise<CampaignJson> {
      const row = await findCampaign(db, id);
      if (!row) throw refusals.notFound('campaign');
      return render(row, principal);
    },

    /** Newest first; drafts only with status=draft, and only the caller's own (operators: all). */
    async listCampaigns(principal: Principal | undefined, q: CampaignListQuery): Promise<{ data: CampaignJson[]; next_cursor: string | null }> {
      let draftOwnerId: string | undefined;
      if (q.status === 'draft') {
        const p = requirePrincipal(principal);
        draftOwnerId = p.role === 'operator' ? undefined : p.id;
      }
      const page = await listCampaigns(db, { ...q, draftOwnerId });
      const tiers = await tiersFor(db, page.rows.map((r) => r.id));
      const now = new Date();
      // Totals straight from the rows: one query for the page, and Postgres is the truth anyway.
      const data = page.rows.map((row) =>
        campaignJson(row, tiers.get(row.id) ?? [], { pledged_cents: Number(row.pledged_cents), backer_count: Number(row.backer_count) }, now, {
          includePrivate: includePrivate(row, principal),
        }),
      );
      return { data, next_cursor: page.nextCursor };
    },

    /** 404 unless the campaign is public (a draft is indistinguishable from a missing campaign). */
    async requirePublicCampaign(id: string): Promise<void> {
      requireVisibleCampaign(await findCampaign(db, id), undefined);
    },

    /** What a new live-progress watcher is told first: the status and the totals. */
    async progressSnapshot(id: string) {
      const [campaign, totals] = await Promise.all([findCampaign(db, id), readTotals(deps, id)]);
      if (!campaign) throw refusals.notFound('campaign');
      return {
        status: campaign.status,
        progress: {
          pledged_cents: totals.pledged_cents,
          backer_count: totals.backer_count,
          percent_funded: percentFunded(totals.pledged_cents, Number(campaign.goal_cents)),
        },
      };
    },
  };
}
