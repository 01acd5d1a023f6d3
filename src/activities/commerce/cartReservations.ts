import { changeLines } from '../../commerce/carts';
import { HotStock } from '../../commerce/hotStock';
import { heldLines, msUntilNextExpiry, releaseExpired } from '../../commerce/reservations';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The cart reservation workflow's step (main task queue): return a cart's expired holds to stock. Idempotent:
 * only rows still held (and past their expiry) move, so a retried or replayed call releases nothing twice.
 */
export function createCartActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const hotStock = new HotStock(redis, db, logger);

  return {
    async releaseCartReservations(input: { cartId: string }): Promise<{ released: number; msUntilNextExpiry: number | null }> {
      const result = await releaseExpired(db, input.cartId, hotStock);
      if (result.variantIds.length) {
        // The shopper's document follows: lines whose holds are gone leave the cart (unless held again since).
        const stillHeld = await heldLines(db, input.cartId);
        const gone = result.variantIds.filter((v) => !stillHeld.has(v));
        try {
          if (gone.length) await changeLines(redis, input.cartId, 'remove', gone.map((variantId) => ({ variantId, quantity: 0, unitPriceCents: 0 })), 0);
        } catch (err) {
          // Best effort: the stock is back either way, and the cart's reads show which lines are no longer held.
          logger.warn({ err, cartId: input.cartId }, 'cart document not updated after its reservations expired');
        }
      }
      return { released: result.released, msUntilNextExpiry: await msUntilNextExpiry(db, input.cartId) };
    },
  };
}
