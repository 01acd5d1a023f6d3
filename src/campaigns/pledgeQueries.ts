import { requireManager, requireVisibleTo } from '../accounts/authorization';
import type { PledgeStatus } from '../domain/campaigns';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { requireVisibleCampaign } from './campaignAccess';
import { cursorTimeSql, decodeCursor, keysetPage } from './keysetCursor';
import type { PledgeRow } from './pledgeRow';
import { loadPledge } from './pledgeStore';
import { pledgeJson, type PledgeJson } from './pledgeViews';
import { findCampaign } from './repository';

/** Who sees which pledges: one pledge, a campaign's pledges (its owner), the caller's own; lists newest first. */

export interface PledgePageQuery {
  limit: number;
  cursor?: string;
}

/** Keyset over (created_at DESC, id DESC). */
function afterCursor(cursor: string): [string, string] {
  const c = decodeCursor(cursor);
  if (!c) throw refusals.invalid([{ path: 'query.cursor', message: 'Not a cursor this list returned.' }], 'Invalid query.');
  return [c.time, c.id];
}

export function createPledgeQueries(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** The backer, the campaign's owner and operators; anyone else gets the 404 of a missing pledge. */
    async getPledge(principal: Principal, pledgeId: string): Promise<PledgeJson> {
      const pledge = await loadPledge(db, pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      const campaign = (await findCampaign(db, pledge.campaign_id))!;
      requireVisibleTo(principal, [pledge.backer_id, campaign.owner_id], 'pledge');
      return pledgeJson(pledge);
    },

    /**
     * The owner's (or an operator's) view of who backed the campaign. Another creator's draft is a 404 like an
     * unknown id; a public campaign's pledges are 403 to anyone but its owner.
     */
    async listCampaignPledges(principal: Principal, campaignId: string, q: PledgePageQuery & { status?: PledgeStatus }) {
      const campaign = requireVisibleCampaign(await findCampaign(db, campaignId), principal);
      requireManager(principal, campaign.owner_id);
      let query = db('pledges as p')
        .join('users as u', 'u.id', 'p.backer_id')
        .leftJoin('reward_tiers as t', 't.id', 'p.reward_tier_id')
        .where('p.campaign_id', campaignId)
        .select('p.*', 'u.name as backer_name', 't.title as tier_title', db.raw(`${cursorTimeSql('p.created_at')} AS cursor_time`))
        .orderBy([{ column: 'p.created_at', order: 'desc' }, { column: 'p.id', order: 'desc' }])
        .limit(q.limit + 1);
      if (q.status) query = query.where('p.status', q.status);
      if (q.cursor) query = query.whereRaw('(p.created_at, p.id) < (?::timestamptz, ?::uuid)', afterCursor(q.cursor));
      const rows = (await query) as Array<PledgeRow & { backer_name: string; tier_title: string | null; cursor_time: string }>;
      const page = keysetPage(rows, q.limit);
      return {
        data: page.rows.map((r) => ({
          id: r.id,
          backer: { id: r.backer_id, name: r.backer_name },
          amount_cents: r.amount_cents,
          currency: r.currency.trim(),
          reward_tier: r.reward_tier_id ? { id: r.reward_tier_id, title: r.tier_title ?? '' } : null,
          status: r.status,
          created_at: r.created_at.toISOString(),
        })),
        next_cursor: page.nextCursor,
      };
    },

    /** The caller's own pledges, newest first; declined attempts are noise there and left out. */
    async listMyPledges(principal: Principal, q: PledgePageQuery) {
      let query = db('pledges as p')
        .join('campaigns as c', 'c.id', 'p.campaign_id')
        .where('p.backer_id', principal.id)
        .whereNot('p.status', 'declined')
        .select('p.*', 'c.title as campaign_title', 'c.status as campaign_status', 'c.ends_at as campaign_ends_at', db.raw(`${cursorTimeSql('p.created_at')} AS cursor_time`))
        .orderBy([{ column: 'p.created_at', order: 'desc' }, { column: 'p.id', order: 'desc' }])
        .limit(q.limit + 1);
      if (q.cursor) query = query.whereRaw('(p.created_at, p.id) < (?::timestamptz, ?::uuid)', afterCursor(q.cursor));
      const rows = (await query) as Array<PledgeRow & { campaign_title: string; campaign_status: string; campaign_ends_at: Date; cursor_time: string }>;
      const page = keysetPage(rows, q.limit);
      return {
        data: page.rows.map((r) => ({
          ...pledgeJson(r),
          campaign: { id: r.campaign_id, title: r.campaign_title, status: r.campaign_status, ends_at: r.campaign_ends_at.toISOString() },
        })),
        next_cursor: page.nextCursor,
      };
    },
  };
}
