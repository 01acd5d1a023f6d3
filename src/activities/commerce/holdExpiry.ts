import { Context } from '@temporalio/activity';
import { sweepDueHolds } from '../../commerce/cartRelease';
import type { HoldSweepResult } from '../../commerce/contract';
import { HotStock } from '../../commerce/hotStock';
import { releaseExpired } from '../../commerce/reservations';
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

    /**
     * The step of the per-cart workflow the sweepers replaced. No workflow calls it any more; it stays only
     * while tests/workflows/commerce/checkout.test.ts (owned elsewhere) still lists it among its mocks.
     */
    releaseCartReservations: async (input: { cartId: string }): Promise<{ released: number; msUntilNextExpiry: number | null }> => ({
      released: (await releaseExpired(db, input.cartId, hotStock)).released,
      msUntilNextExpiry: null,
    }),
  };
}
