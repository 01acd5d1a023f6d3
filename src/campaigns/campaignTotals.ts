import type { Knex } from 'knex';
import { percentFunded } from '../domain/campaigns';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { queueCampaignEvent } from './events';
import { queueTotalsDelta } from './liveTotals';
import { createGroupCommit } from '../infra/keyedGroupCommit';

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
    // The counters' delta and the progress event go in one round trip.
    const pipeline = deps.redis.pipeline();
    queueTotalsDelta(pipeline, campaignId, delta);
    queueCampaignEvent(pipeline, campaignId, {
      type: 'progress',
      pledged_cents: totals.pledged_cents,
      backer_count: totals.backer_count,
      percent_funded: percentFunded(totals.pledged_cents, totals.goal_cents),
    });
    const failed = (await pipeline.exec())?.find(([err]) => err)?.[0];
    if (failed) throw failed;
  } catch (err) {
    deps.logger.warn({ err, campaignId }, 'live totals or progress event not published; Postgres has the totals');
  }
}

type Announcement = { delta: { pledgedCents: number; backerCount: number }; totals: PledgedTotals };

/**
 * announceTotals for a hot campaign, group-committed (src/infra/keyedGroupCommit.ts): the announcements that arrive
 * while one is on its way go out together next, deltas summed (the counters stay exact) and the newest totals
 * published (every event carries absolute totals). Many pledges, one Redis round trip.
 */
export function createTotalsAnnouncer(deps: { redis: RedisClient; logger: Logger }) {
  const announce = createGroupCommit<Announcement, void>(async (campaignId, batch) => {
    const delta = {
      pledgedCents: batch.reduce((sum, a) => sum + a.delta.pledgedCents, 0),
      backerCount: batch.reduce((sum, a) => sum + a.delta.backerCount, 0),
    };
    await announceTotals(deps, campaignId, delta, batch[batch.length - 1]!.totals);
    return batch.map(() => undefined);
  });
  return (campaignId: string, delta: Announcement['delta'], totals: PledgedTotals): Promise<void> => announce(campaignId, { delta, totals });
}
