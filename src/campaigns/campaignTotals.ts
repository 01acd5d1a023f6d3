import type { Knex } from 'knex';
import { percentFunded } from '../domain/campaigns';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { queueCampaignEvent } from './events';
import { queueTotalsDelta } from './liveTotals';

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

interface Pending {
  delta: { pledgedCents: number; backerCount: number };
  totals: PledgedTotals;
  done: Promise<void>;
  release: () => void;
}

/**
 * announceTotals for a hot campaign: while one announcement of a campaign is on its way, the ones that arrive
 * are folded into the next (deltas summed, so the counters stay exact; the newest totals published, as every
 * event carries absolute totals). Many pledges then cost one Redis round trip, and no announcement waits for
 * a timer: an idle campaign's goes at once.
 */
export function createTotalsAnnouncer(deps: { redis: RedisClient; logger: Logger }) {
  const sending = new Set<string>();
  const next = new Map<string, Pending>();

  async function drain(campaignId: string): Promise<void> {
    for (let batch = next.get(campaignId); batch; batch = next.get(campaignId)) {
      next.delete(campaignId);
      await announceTotals(deps, campaignId, batch.delta, batch.totals);
      batch.release();
    }
    sending.delete(campaignId);
  }

  return (campaignId: string, delta: { pledgedCents: number; backerCount: number }, totals: PledgedTotals): Promise<void> => {
    let batch = next.get(campaignId);
    if (batch) {
      batch.delta = { pledgedCents: batch.delta.pledgedCents + delta.pledgedCents, backerCount: batch.delta.backerCount + delta.backerCount };
      batch.totals = totals;
    } else {
      let release!: () => void;
      const done = new Promise<void>((resolve) => (release = resolve));
      batch = { delta, totals, done, release };
      next.set(campaignId, batch);
    }
    if (!sending.has(campaignId)) {
      sending.add(campaignId);
      void drain(campaignId);
    }
    return batch.done;
  };
}
