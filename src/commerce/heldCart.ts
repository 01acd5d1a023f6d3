import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { TemporalClientProvider } from '../temporal/client';
import { findStore } from './catalog';
import { cartTtlMs, createCart, type StoredCart } from './cartDocuments';
import { wakeHoldSweeper } from './holdSweepers';
import type { HotStock } from './hotStock';
import { extendCart, heldLines, reserve } from './reservations';

export interface HeldCartDeps {
  config: Pick<Config, 'TASK_QUEUE' | 'RESERVATION_TTL' | 'TEMPORAL_UPDATE_TIMEOUT' | 'CART_TTL_GUEST' | 'CART_TTL_USER' | 'HOLD_EXPIRY_SHARDS'>;
  db: Db;
  redis: RedisClient;
  temporal: TemporalClientProvider;
  hotStock?: HotStock;
}

export interface HeldCartRequest {
  /** Pass a stable id to make a retry address the same cart (its hold is then not taken twice). */
  cartId?: string;
  storeId: string;
  variantId: string;
  ownerId: string;
  quantity: number;
  unitPriceCents: number;
  dropId?: string;
}

/**
 * Opens a cart that already holds `quantity` units of one variant, for a shopper who did not pick them from the
 * catalog: a drop's winner claiming, or a waiting-room shopper being admitted. Its hold's sweeper is told when
 * the hold ends first (a signal-with-start, so it runs and wakes by then, however long its sleep bound: these
 * run in activities, where a Temporal call costs no shopper anything), then the stock (InsufficientStockError
 * when it is not there), then the document. A cart id that already holds the line is returned as it is, so
 * retried activities hold once.
 */
export async function openHeldCart(deps: HeldCartDeps, r: HeldCartRequest): Promise<StoredCart> {
  const { config, db, redis } = deps;
  const store = await findStore(db, r.storeId);
  if (!store) throw new Error(`store ${r.storeId} not found`);
  const cartId = r.cartId ?? randomUUID();
  const doc = {
    id: cartId,
    store_id: store.id,
    store_slug: store.slug,
    currency: store.currency,
    owner_id: r.ownerId,
    items: [{ variant_id: r.variantId, quantity: r.quantity, unit_price_cents: r.unitPriceCents }],
    created_at: new Date().toISOString(),
    ...(r.dropId ? { drop_id: r.dropId } : {}),
  };
  const alreadyHeld = (await heldLines(db, cartId)).has(r.variantId);
  const expiresAt = new Date(Date.now() + config.RESERVATION_TTL);
  await wakeHoldSweeper(deps, r.variantId, expiresAt);
  if (!alreadyHeld) {
    // `once`: a concurrent call for the same cart id (a retried activity overlapping its first try) holds nothing more.
    await reserve(db, { storeId: r.storeId, cartId, variantId: r.variantId, quantity: r.quantity, expiresAt, holdId: cartId, once: true }, deps.hotStock);
  } else {
    await extendCart(db, cartId, expiresAt);
  }
  return createCart(redis, doc, cartTtlMs(config, r.ownerId));
}
