import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { changeLines, forgetCart } from './cartDocuments';
import type { HotStock } from './hotStock';
import { heldLines, releaseCart, releaseExpired, type ReleaseResult } from './reservations';

/**
 * Giving a cart's holds back with its document following: the stock first (Postgres, the truth), then the
 * lines leave the shopper's document, so adding them again holds them afresh.
 */

export interface CartReleaseDeps {
  db: Db;
  redis: RedisClient;
  logger: Logger;
  hotStock: HotStock;
}

/** The lines leave the cart document (a no-op when the document is gone). */
export async function removeCartLines(redis: RedisClient, cartId: string, variantIds: string[]): Promise<void> {
  if (variantIds.length) await changeLines(redis, cartId, 'remove', variantIds.map((variantId) => ({ variantId, quantity: 0, unitPriceCents: 0 })), 0);
}

/**
 * Releases the cart's holds (`expired`: only those past their expiry), then takes the released lines out of
 * its document unless the shopper has held them again meanwhile. The document step is best effort: the stock
 * is back either way, and the cart's reads show which lines are no longer held. `why` names the occasion in
 * the warning.
 */
export async function releaseCartLines(deps: CartReleaseDeps, cartId: string, opts: { expired: boolean; why: string }): Promise<ReleaseResult> {
  const { db, redis, logger, hotStock } = deps;
  const result = opts.expired ? await releaseExpired(db, cartId, hotStock) : await releaseCart(db, cartId, hotStock);
  if (!result.variantIds.length) return result;
  const stillHeld = await heldLines(db, cartId);
  try {
    await removeCartLines(redis, cartId, result.variantIds.filter((v) => !stillHeld.has(v)));
  } catch (err) {
    logger.warn({ err, cartId }, `cart document not updated after ${opts.why}`);
  }
  return result;
}

/** A drop's cart given up (its shopper left, or no one may keep its unit): holds released, document forgotten. */
export async function giveUpCart(deps: Omit<CartReleaseDeps, 'logger'>, cartId: string): Promise<void> {
  await releaseCart(deps.db, cartId, deps.hotStock);
  await forgetCart(deps.redis, cartId);
}
