import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import {
  isBeforeDecision,
  percentFunded,
  secondsLeft,
  type CampaignCategory,
  type CampaignStatus,
  type FundingModel,
  type Outcome,
} from '../domain/campaigns';
import { DomainError } from '../domain/errors';
import { cursorTimeSql, decodeCursor, keysetPage } from './keysetCursor';
import type { CampaignTotals } from './liveTotals';

/** Campaign and reward-tier queries, and the one JSON shape the API answers with. */

export interface CampaignRow {
  id: string;
  owner_id: string;
  title: string;
  description: string;
  category: CampaignCategory;
  goal_cents: number;
  currency: string;
  funding_model: FundingModel;
  status: CampaignStatus;
  outcome: Outcome | null;
  starts_at: Date | null;
  ends_at: Date;
  pledged_cents: number;
  backer_count: number;
  collected_cents: number;
  webhook_url: string | null;
  launched_at: Date | null;
  decided_at: Date | null;
  settled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface TierRow {
  id: string;
  campaign_id: string;
  position: number;
  title: string;
  description: string;
  min_amount_cents: number;
  quantity: number | null;
  claimed: number;
}

// Never `*`: the row also holds the webhook secret and the generated search vector.
export const CAMPAIGN_COLUMNS = [
  'id',
  'owner_id',
  'title',
  'description',
  'category',
  'goal_cents',
  'currency',
  'funding_model',
  'status',
  'outcome',
  'starts_at',
  'ends_at',
  'pledged_cents',
  'backer_count',
  'collected_cents',
  'webhook_url',
  'launched_at',
  'decided_at',
  'settled_at',
  'created_at',
  'updated_at',
] as const;

const TIER_COLUMNS = ['id', 'campaign_id', 'position', 'title', 'description', 'min_amount_cents', 'quantity', 'claimed'] as const;

type Conn = Db | Knex.Transaction;

export interface NewCampaign {
  ownerId: string;
  title: string;
  description: string;
  category: CampaignCategory;
  goalCents: number;
  currency: string;
  fundingModel: FundingModel;
  startsAt: Date | null;
  endsAt: Date;
  webhook: { url: string; secret: string } | null;
  tiers: { title: string; description: string; minAmountCents: number; quantity: number | null }[];
}

export async function insertCampaign(db: Db, c: NewCampaign): Promise<{ campaign: CampaignRow; tiers: TierRow[] }> {
  return db.transaction(async (trx) => {
    const [campaign] = (await trx('campaigns')
      .insert({
        owner_id: c.ownerId,
        title: c.title,
        description: c.description,
        category: c.category,
        goal_cents: c.goalCents,
        currency: c.currency,
        funding_model: c.fundingModel,
        starts_at: c.startsAt,
        ends_at: c.endsAt,
        webhook_url: c.webhook?.url ?? null,
        webhook_secret: c.webhook?.secret ?? null,
      })
      .returning(CAMPAIGN_COLUMNS as unknown as string[])) as CampaignRow[];
    const tiers = c.tiers.length
      ? ((await trx('reward_tiers')
          .insert(
            c.tiers.map((t, position) => ({
              campaign_id: campaign!.id,
              position,
              title: t.title,
              description: t.description,
              min_amount_cents: t.minAmountCents,
              quantity: t.quantity,
            })),
          )
          .returning(TIER_COLUMNS as unknown as string[])) as TierRow[])
      : [];
    return { campaign: campaign!, tiers: tiers.sort((a, b) => a.position - b.position) };
  });
}

export async function findCampaign(db: Conn, id: string): Promise<CampaignRow | undefined> {
  return (await db('campaigns').where({ id }).first(CAMPAIGN_COLUMNS)) as CampaignRow | undefined;
}

/** The row, locked until the transaction ends: every status change goes through this. */
export async function lockCampaign(trx: Knex.Transaction, id: string): Promise<CampaignRow | undefined> {
  return (await trx('campaigns').where({ id }).forUpdate().first(CAMPAIGN_COLUMNS)) as CampaignRow | undefined;
}

/**
 * The row, locked against other totals changes until the transaction ends. NO KEY UPDATE serializes pledge
 * changes without blocking new pledges' foreign-key checks.
 */
export async function lockCampaignTotals(trx: Knex.Transaction, id: string): Promise<CampaignRow | undefined> {
  return (await trx('campaigns').where({ id }).forNoKeyUpdate().first(CAMPAIGN_COLUMNS)) as CampaignRow | undefined;
}

export async function tiersFor(db: Conn, campaignIds: readonly string[]): Promise<Map<string, TierRow[]>> {
  const byCampaign = new Map<string, TierRow[]>(campaignIds.map((id) => [id, []]));
  if (!campaignIds.length) return byCampaign;
  const rows = (await db('reward_tiers')
    .whereIn('campaign_id', campaignIds)
    .orderBy([{ column: 'campaign_id' }, { column: 'position' }])
    .select(TIER_COLUMNS)) as TierRow[];
  for (const t of rows) byCampaign.get(t.campaign_id)?.push(t);
  return byCampaign;
}

/** Draft campaigns never ran a workflow, so cancelling one ends it on the spot. False when no longer a draft. */
export async function cancelDraft(db: Db, id: string): Promise<boolean> {
  const updated = await db('campaigns')
    .where({ id, status: 'draft' })
    .update({
      status: 'settled',
      outcome: 'cancelled',
      decided_at: db.fn.now(),
      settled_at: db.fn.now(),
      updated_at: db.fn.now(),
    });
  return updated > 0;
}

/** A draft's deadline is plain data; false when the campaign stopped being a draft meanwhile. */
export async function setDraftDeadline(db: Db, id: string, endsAt: Date): Promise<boolean> {
  const updated = await db('campaigns').where({ id, status: 'draft' }).update({ ends_at: endsAt, updated_at: db.fn.now() });
  return updated > 0;
}

// ---------------------------------------------------------------------------------------------------------
// Listing: newest first, keyset-paged on (created_at DESC, id ASC), the order the migration's indexes hold.

export interface CampaignFilters {
  category?: CampaignCategory;
  /** Undefined: every non-draft campaign. */
  status?: CampaignStatus;
  /** Only with status 'draft': whose drafts (undefined = everyone's, for operators). */
  draftOwnerId?: string;
  startsAfter?: Date;
  q?: string;
  limit: number;
  cursor?: string;
}

export async function listCampaigns(db: Db, f: CampaignFilters): Promise<{ rows: CampaignRow[]; nextCursor: string | null }> {
  const query = db('campaigns').select(CAMPAIGN_COLUMNS).select(db.raw(`${cursorTimeSql('created_at')} AS cursor_time`));
  if (f.status) query.where('status', f.status);
  else query.whereNot('status', 'draft');
  if (f.status === 'draft' && f.draftOwnerId) query.where('owner_id', f.draftOwnerId);
  if (f.category) query.where('category', f.category);
  if (f.startsAfter) query.where('starts_at', '>', f.startsAfter);
  if (f.q) query.whereRaw(`search @@ websearch_to_tsquery('english', ?)`, [f.q]);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    if (!c) throw new DomainError('invalid', 'invalid_cursor', 'The cursor is not one this list returned.', {}, 'Invalid cursor');
    query.where((w) => {
      w.where('created_at', '<', c.time).orWhere((same) => same.where('created_at', '=', c.time).andWhere('id', '>', c.id));
    });
  }
  const rows = (await query.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'asc' }]).limit(f.limit + 1)) as (CampaignRow & {
    cursor_time: string;
  })[];
  const page = keysetPage(rows, f.limit);
  return { rows: page.rows.map(({ cursor_time: _omit, ...row }) => row), nextCursor: page.nextCursor };
}

// ---------------------------------------------------------------------------------------------------------

export interface RewardTierJson {
  id: string;
  title: string;
  description: string;
  min_amount_cents: number;
  /** null: unlimited. */
  quantity: number | null;
  /** null: unlimited. */
  remaining: number | null;
}

export interface CampaignJson {
  id: string;
  owner_id: string;
  title: string;
  description: string;
  category: CampaignCategory;
  goal_cents: number;
  currency: string;
  funding_model: FundingModel;
  status: CampaignStatus;
  outcome: Outcome | null;
  starts_at: string | null;
  ends_at: string;
  pledged_cents: number;
  backer_count: number;
  percent_funded: number;
  seconds_left: number;
  collected_cents: number;
  reward_tiers: RewardTierJson[];
  created_at: string;
  launched_at: string | null;
  decided_at: string | null;
  settled_at: string | null;
  /** Only for the owner and operators. */
  webhook_url?: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tierJson(t: TierRow): RewardTierJson {
  return {
    id: t.id,
    title: t.title,
    description: t.description,
    min_amount_cents: Number(t.min_amount_cents),
    quantity: t.quantity,
    remaining: t.quantity === null ? null : Math.max(0, t.quantity - t.claimed),
  };
}

export function campaignJson(
  row: CampaignRow,
  tiers: readonly TierRow[],
  totals: CampaignTotals,
  now: Date,
  opts: { includePrivate?: boolean } = {},
): CampaignJson {
  return {
    id: row.id,
    owner_id: row.owner_id,
    title: row.title,
    description: row.description,
    category: row.category,
    goal_cents: Number(row.goal_cents),
    currency: row.currency,
    funding_model: row.funding_model,
    status: row.status,
    outcome: row.outcome,
    starts_at: iso(row.starts_at),
    ends_at: row.ends_at.toISOString(),
    pledged_cents: totals.pledged_cents,
    backer_count: totals.backer_count,
    percent_funded: percentFunded(totals.pledged_cents, Number(row.goal_cents)),
    // A cancelled campaign's deadline may still be ahead; no time is left on it all the same.
    seconds_left: isBeforeDecision(row.status) ? secondsLeft(row.ends_at, now) : 0,
    collected_cents: Number(row.collected_cents),
    reward_tiers: tiers.map(tierJson),
    created_at: row.created_at.toISOString(),
    launched_at: iso(row.launched_at),
    decided_at: iso(row.decided_at),
    settled_at: iso(row.settled_at),
    ...(opts.includePrivate ? { webhook_url: row.webhook_url } : {}),
  };
}
