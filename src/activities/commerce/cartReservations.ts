import { releaseCartLines } from '../../commerce/cartRelease';
import { HotStock } from '../../commerce/hotStock';
import { msUntilNextExpiry } from '../../commerce/reservations';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The cart reservation workflow's step (main task queue): return a cart's expired holds to stock, their lines
 * leaving the cart document. Idempotent: only rows still held (and past their expiry) move, so a retried or
 * replayed call releases nothing twice.
 */
export function createCartActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const hotStock = new HotStock(redis, db, logger);

  return {
    async releaseCartReservations(input: { cartId: string }): Promise<{ released: number; msUntilNextExpiry: number | null }> {
      const result = await releaseCartLines({ db, redis, logger, hotStock }, input.cartId, { expired: true, why: 'its reservations expired' });
      return { released: result.released, msUntilNextExpiry: await msUntilNextExpiry(db, input.cartId) };
    },
  };
}
