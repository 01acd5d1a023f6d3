import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { changeLines, forgetCart } from './cartDocuments';
import type { HotStock } from './hotStock';
import type { HoldSweepResult } from './contract';
import { heldLines, nextShardExpiry, releaseCart, releaseDueHolds, releaseExpired, type ReleaseResult } from './reservations';

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

/** Holds per batch of a sweep, and batches per sweep pass before it reports back (the workflow loops at once). */
const SWEEP_BATCH = 500;
const SWEEP_BATCHES = 20;

/**
 * One pass of a hold-expiry sweeper: releases the shard's due holds in batches (stock, hot counters), takes
 * the released lines out of their carts' documents unless held again, and says when the next hold of the
 * shard ends. `beat` runs after every batch (the activity's heartbeat). Idempotent.
 */
export async function sweepDueHolds(deps: CartReleaseDeps, opts: { shard: number; shards: number; beat?: () => void }): Promise<HoldSweepResult> {
  const { db, logger, hotStock } = deps;
  let released = 0;
  for (let batch = 0; batch < SWEEP_BATCHES; batch++) {
    const result = await releaseDueHolds(db, { shard: opts.shard, shards: opts.shards, limit: SWEEP_BATCH }, hotStock);
    released += result.released;
    await removeReleasedLines(deps, result.lines);
    opts.beat?.();
    if (result.lines.length < SWEEP_BATCH) break;
  }
  if (released) logger.debug({ shard: opts.shard, released }, 'expired cart holds released');
  return { released, nextExpiresAt: (await nextShardExpiry(db, opts.shard, opts.shards))?.toISOString() ?? null };
}

/** Released lines leave their carts' documents, unless the cart holds the variant again. Best effort. */
async function removeReleasedLines(deps: CartReleaseDeps, lines: ReleaseResult['lines']): Promise<void> {
  if (!lines.length) return;
  const carts = [...new Set(lines.map((l) => l.cart_id))];
  const stillHeld = new Set(
    ((await deps.db('reservations').whereIn('cart_id', carts).andWhere('status', 'held').select('cart_id', 'variant_id')) as ReleaseResult['lines']).map((l) => `${l.cart_id}/${l.variant_id}`),
  );
  const byCart = new Map<string, string[]>();
  for (const l of lines) if (!stillHeld.has(`${l.cart_id}/${l.variant_id}`)) byCart.set(l.cart_id, [...(byCart.get(l.cart_id) ?? []), l.variant_id]);
  await Promise.all(
    [...byCart].map(([cartId, variantIds]) =>
      removeCartLines(deps.redis, cartId, variantIds).catch((err: unknown) => deps.logger.warn({ err, cartId }, 'cart document not updated after its holds expired')),
    ),
  );
}
