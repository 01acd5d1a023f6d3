import type { ChainableCommander } from 'ioredis';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';

/**
 * Live campaign counters in Redis (pledged_cents, backer_count), rebuilt from Postgres when missing.
 * Postgres stays the truth: the counters are a read cache that pledges keep warm with deltas.
 *
 * Why a delta never creates the hash: a delta applied to a missing hash would start the counter from zero
 * and hide the real total. Missing means "ask Postgres", always.
 *
 * Why the TTL is set only by a rebuild, never refreshed by a delta: a rebuild can race a pledge (read
 * Postgres, the pledge commits and its delta finds no hash, then the rebuild stores the older total). A TTL
 * that deltas kept pushing back would let that stale value live as long as the campaign stays busy; a fixed
 * one bounds any drift to LIVE_TOTALS_TTL_SECONDS.
 */
export interface CampaignTotals {
  pledged_cents: number;
  backer_count: number;
}

export const LIVE_TOTALS_TTL_SECONDS = 300;

export const liveTotalsKey = (campaignId: string) => `campaign:${campaignId}:totals`;

const APPLY_DELTA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'pledged_cents', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'backer_count', ARGV[2])
return 1`;

const SET_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'pledged_cents', ARGV[1], 'backer_count', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'pledged_cents', 'backer_count')`;

/** Call after the pledge's transaction commits; a missing counter is left missing for readTotals to rebuild. */
export async function applyTotalsDelta(
  redis: RedisClient,
  campaignId: string,
  delta: { pledgedCents: number; backerCount: number },
): Promise<void> {
  const pipeline = redis.pipeline();
  if (queueTotalsDelta(pipeline, campaignId, delta)) await pipeline.exec();
}

/** applyTotalsDelta's command added to a pipeline (sent with others in one round trip); false when the delta is zero. */
export function queueTotalsDelta(pipeline: ChainableCommander, campaignId: string, delta: { pledgedCents: number; backerCount: number }): boolean {
  if (!Number.isSafeInteger(delta.pledgedCents) || !Number.isSafeInteger(delta.backerCount)) {
    throw new TypeError('applyTotalsDelta: deltas must be integers');
  }
  if (delta.pledgedCents === 0 && delta.backerCount === 0) return false;
  pipeline.eval(APPLY_DELTA, 1, liveTotalsKey(campaignId), delta.pledgedCents, delta.backerCount);
  return true;
}

function parse(values: unknown): CampaignTotals | undefined {
  if (!Array.isArray(values)) return undefined;
  const [pledged, backers] = values as (string | null)[];
  if (pledged == null || backers == null) return undefined;
  // A counter briefly ahead of a stale rebuild may dip below zero; never show that.
  return { pledged_cents: Math.max(0, Number(pledged)), backer_count: Math.max(0, Number(backers)) };
}

async function fromPostgres(db: Db, campaignId: string): Promise<CampaignTotals | undefined> {
  const row = await db('campaigns').where({ id: campaignId }).first('pledged_cents', 'backer_count');
  return row ? { pledged_cents: Number(row.pledged_cents), backer_count: Number(row.backer_count) } : undefined;
}

/**
 * The live totals, from Redis when the counters exist, else from Postgres (stored back for the next reader
 * unless another reader got there first). Redis being down degrades to a Postgres read, never an error.
 */
export async function readTotals(deps: { db: Db; redis: RedisClient }, campaignId: string): Promise<CampaignTotals> {
  const key = liveTotalsKey(campaignId);
  try {
    const cached = parse(await deps.redis.hmget(key, 'pledged_cents', 'backer_count'));
    if (cached) return cached;
  } catch {
    return (await fromPostgres(deps.db, campaignId)) ?? { pledged_cents: 0, backer_count: 0 };
  }
  const truth = await fromPostgres(deps.db, campaignId);
  if (!truth) return { pledged_cents: 0, backer_count: 0 };
  try {
    const stored = await deps.redis.eval(SET_IF_ABSENT, 1, key, truth.pledged_cents, truth.backer_count, LIVE_TOTALS_TTL_SECONDS);
    return parse(stored) ?? truth;
  } catch {
    return truth;
  }
}
