import { Context } from '@temporalio/activity';
import { sweepDueHolds } from '../../commerce/cartRelease';
import type { HoldSweepResult } from '../../commerce/contract';
import { HotStock } from '../../commerce/hotStock';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The hold-expiry sweepers' step (main task queue), an adapter over src/commerce/cartRelease.ts: release a
 * shard's due holds, heartbeating per batch. Idempotent: only rows still held and past their expiry move.
 */
export function createHoldExpiryActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const hotStock = new HotStock(redis, db, logger);

  return {
    releaseDueHolds: (input: { shard: number; shards: number }): Promise<HoldSweepResult> =>
      sweepDueHolds({ db, redis, logger, hotStock }, { ...input, beat: () => Context.current().heartbeat() }),
  };
}
