import type { Knex } from 'knex';
import { percentFunded } from '../domain/campaigns';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { publishCampaignEvent } from './events';
import { applyTotalsDelta } from './liveTotals';

/**
 * A campaign's pledged totals: Postgres changes them inside the pledge's own transaction; the Redis counters
 * and the SSE progress event follow after the commit and are rebuilt from Postgres when they are lost.
 */

export interface PledgedTotals {
  pledged_cents: number;
  backer_count: number;
  goal_cents: number;
}

/**
 * Moves a live campaign's totals; undefined when the campaign was decided meanwhile (the caller rolls back).
 * Call it last before COMMIT: every pledge of a hot campaign queues on this row.
 */
export async function moveLiveTotals(trx: Knex.Transaction, campaignId: string, pledgedDelta: number, backerDelta: number): Promise<PledgedTotals | undefined> {
  const { rows } = await trx.raw<{ rows: PledgedTotals[] }>(
    `UPDATE campaigns SET pledged_cents = pledged_cents + ?, backer_count = backer_count + ?, updated_at = now()
      WHERE id = ? AND status = 'live' AND ends_at > now()
      RETURNING pledged_cents, backer_count, goal_cents`,
    [pledgedDelta, backerDelta, campaignId],
  );
  return rows[0];
}

/** After commit: counters and progress are conveniences, so their failure never fails (or repeats) a committed change. */
export async function announceTotals(
  deps: { redis: RedisClient; logger: Logger },
  campaignId: string,
  delta: { pledgedCents: number; backerCount: number },
  totals: PledgedTotals,
): Promise<void> {
  try {
    await applyTotalsDelta(deps.redis, campaignId, delta);
    await publishCampaignEvent(deps.redis, campaignId, {
      type: 'progress',
      pledged_cents: totals.pledged_cents,
      backer_count: totals.backer_count,
      percent_funded: percentFunded(totals.pledged_cents, totals.goal_cents),
    });
  } catch (err) {
    deps.logger.warn({ err, campaignId }, 'live totals or progress event not published; Postgres has the totals');
  }
}
