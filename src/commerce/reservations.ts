import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { retryOnConflict, type Db } from '../infra/db';
import type { HotStock } from './hotStock';

/**
 * Stock holds of carts (DESIGN.md, invariant 1). Postgres is the final gate: a hold takes units only through a
 * conditional `UPDATE inventory ... WHERE total_stock - reserved - sold >= n`, and the schema's CHECK
 * (reserved + sold <= total_stock) refuses anything else. One live (`held`) reservation row per cart line.
 *
 * Lock order, everywhere: the inventory row first, then reservation rows, so concurrent holds, changes and
 * releases of one line wait for each other instead of deadlocking.
 *
 * Hot (flash-sale) variants, when a HotStock is passed: a Redis Lua pre-filter runs before Postgres (see
 * hotStock.ts). Its "insufficient" answers at once; Redis trouble falls through to Postgres, which still decides.
 * Every committed change of a hot variant's holds is mirrored into the Redis counter afterwards.
 */

type Conn = Db | Knex.Transaction;

export class InsufficientStockError extends Error {
  constructor(
    readonly variantId: string,
    readonly available: number,
  ) {
    super(`Only ${available} unit(s) of variant ${variantId} are available.`);
    this.name = 'InsufficientStockError';
  }
}

/** No inventory row for that variant in that store. */
export class UnknownVariantError extends Error {
  constructor(readonly variantId: string) {
    super(`No stock is kept for variant ${variantId} in this store.`);
    this.name = 'UnknownVariantError';
  }
}

export interface HoldRequest {
  storeId: string;
  cartId: string;
  variantId: string;
  quantity: number;
  expiresAt: Date;
  /** Whether the variant is hot (flash sale); looked up when a HotStock is given and this is absent. */
  hot?: boolean;
  /** Identifies this request's take in Redis, so a retry with the same id never takes twice there. */
  holdId?: string;
  /**
   * Hold exactly `quantity` for the cart, once: when the line is already held (a retried or concurrent call),
   * the existing hold is returned and nothing more is taken. Without it, a hold adds to the line.
   */
  once?: boolean;
}

/** Rolls back a `once` hold's transaction (its units included) when the line turned out to be held already. */
class AlreadyHeld extends Error {}

export interface HeldLine {
  variant_id: string;
  quantity: number;
  expires_at: Date;
}

async function available(trx: Conn, storeId: string, variantId: string): Promise<number> {
  const row = (await trx('inventory')
    .where({ variant_id: variantId, store_id: storeId })
    .first(trx.raw('total_stock - reserved - sold AS available'))) as { available: number } | undefined;
  if (!row) throw new UnknownVariantError(variantId);
  return Math.max(0, Number(row.available));
}

/** Takes n units when that many are free; false (nothing changed) otherwise. */
async function takeUnits(trx: Knex.Transaction, storeId: string, variantId: string, n: number): Promise<boolean> {
  const result = await trx.raw(
    `UPDATE inventory SET reserved = reserved + ?, updated_at = now()
      WHERE variant_id = ? AND store_id = ? AND total_stock - reserved - sold >= ?
      RETURNING total_stock, reserved, sold`,
    [n, variantId, storeId, n],
  );
  return (result.rows as unknown[]).length === 1;
}

async function returnUnits(trx: Knex.Transaction, storeId: string, variantId: string, n: number): Promise<void> {
  await trx.raw(`UPDATE inventory SET reserved = reserved - ?, updated_at = now() WHERE variant_id = ? AND store_id = ?`, [n, variantId, storeId]);
}

/**
 * Holds `quantity` more units for a cart line, in one transaction: the conditional inventory update, then the
 * line's held reservation (created, or its quantity increased). Returns the line's held quantity now.
 *
 * For a hot variant (with `hotStock`), the Redis pre-filter goes first: not enough there is a 409 without
 * touching Postgres; units taken there go back when Postgres then refuses (or fails).
 */
export async function reserve(db: Db, r: HoldRequest, hotStock?: HotStock): Promise<HeldLine> {
  const hot = hotStock !== undefined && (r.hot ?? (await hotStock.isHot(r.storeId, r.variantId)));
  if (!hot) return reserveInPostgres(db, r);

  const holdId = r.holdId ?? randomUUID();
  const pre = await hotStock.take(r.storeId, r.variantId, r.quantity, holdId);
  if (pre.kind === 'insufficient') throw new InsufficientStockError(r.variantId, pre.available);
  try {
    return await reserveInPostgres(db, r);
  } catch (err) {
    if (pre.kind === 'taken') await hotStock.giveBack(r.variantId, r.quantity, holdId);
    throw err;
  }
}

async function reserveInPostgres(db: Db, r: HoldRequest): Promise<HeldLine> {
  try {
    return await retryOnConflict(() =>
      db.transaction(async (trx) => {
        if (!(await takeUnits(trx, r.storeId, r.variantId, r.quantity))) {
          throw new InsufficientStockError(r.variantId, await available(trx, r.storeId, r.variantId));
        }
        // The partial unique index makes a concurrent `once` wait for the other's commit, then find its row.
        const onConflict = r.once
          ? 'DO NOTHING'
          : 'DO UPDATE SET quantity = reservations.quantity + EXCLUDED.quantity, expires_at = EXCLUDED.expires_at, updated_at = now()';
        const result = await trx.raw(
          `INSERT INTO reservations (store_id, variant_id, cart_id, quantity, expires_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (cart_id, variant_id) WHERE status = 'held' ${onConflict}
           RETURNING variant_id, quantity, expires_at`,
          [r.storeId, r.variantId, r.cartId, r.quantity, r.expiresAt],
        );
        const row = (result.rows as HeldLine[])[0];
        if (!row) throw new AlreadyHeld();
        return row;
      }),
    );
  } catch (err) {
    if (!(err instanceof AlreadyHeld)) throw err;
    return (await db('reservations')
      .where({ cart_id: r.cartId, variant_id: r.variantId, store_id: r.storeId, status: 'held' })
      .first('variant_id', 'quantity', 'expires_at')) as HeldLine;
  }
}

/**
 * Sets a cart line's held quantity. Lowering it returns the difference to stock at once; raising it holds the
 * difference conditionally (InsufficientStockError, nothing changed, when it is not there); 0 releases the
 * line. A line without a live hold (expired) is held afresh. Returns the held line, or null for 0.
 */
export async function setQuantity(db: Db, r: HoldRequest, hotStock?: HotStock): Promise<HeldLine | null> {
  let delta = 0;
  const line = await retryOnConflict(() =>
    db.transaction(async (trx) => {
      const inv = await trx('inventory').where({ variant_id: r.variantId, store_id: r.storeId }).forUpdate().first('variant_id');
      if (!inv) throw new UnknownVariantError(r.variantId);
      const held = (await trx('reservations')
        .where({ cart_id: r.cartId, variant_id: r.variantId, status: 'held' })
        .forUpdate()
        .first('id', 'quantity')) as { id: string; quantity: number } | undefined;
      const current = held?.quantity ?? 0;
      delta = r.quantity - current;
      if (delta > 0 && !(await takeUnits(trx, r.storeId, r.variantId, delta))) {
        throw new InsufficientStockError(r.variantId, await available(trx, r.storeId, r.variantId));
      }
      if (delta < 0) await returnUnits(trx, r.storeId, r.variantId, -delta);

      if (r.quantity === 0) {
        if (held) await trx('reservations').where({ id: held.id }).update({ status: 'released', updated_at: trx.fn.now() });
        return null;
      }
      if (held) {
        const [row] = (await trx('reservations')
          .where({ id: held.id })
          .update({ quantity: r.quantity, expires_at: r.expiresAt, updated_at: trx.fn.now() })
          .returning(['variant_id', 'quantity', 'expires_at'])) as HeldLine[];
        return row!;
      }
      const [row] = (await trx('reservations')
        .insert({ store_id: r.storeId, variant_id: r.variantId, cart_id: r.cartId, quantity: r.quantity, expires_at: r.expiresAt })
        .returning(['variant_id', 'quantity', 'expires_at'])) as HeldLine[];
      return row!;
    }),
  );
  // Committed: a hot variant's counter follows (units back when lowered, taken when raised).
  if (delta !== 0 && hotStock && (r.hot ?? (await hotStock.isHot(r.storeId, r.variantId)))) await hotStock.adjust(r.variantId, -delta);
  return line;
}

export interface ReleaseResult {
  /** Reservation rows moved from held to released by this call. */
  released: number;
  /** Variants whose holds this call released. */
  variantIds: string[];
}

async function release(db: Db, cartId: string, onlyExpired: boolean, hotStock?: HotStock): Promise<ReleaseResult> {
  let hotReturned: { variant_id: string; quantity: number }[] = [];
  const outcome = await retryOnConflict(() =>
    db.transaction(async (trx) => {
      // Inventory rows first (see the lock order above), in a stable order.
      const lines = (await trx('reservations').where({ cart_id: cartId, status: 'held' }).distinct('variant_id', 'store_id')) as {
        variant_id: string;
        store_id: string;
      }[];
      hotReturned = [];
      if (!lines.length) return { released: 0, variantIds: [] };
      await trx('inventory')
        .whereIn('variant_id', lines.map((l) => l.variant_id))
        .orderBy('variant_id')
        .forUpdate()
        .select('variant_id');
      // Only rows still held move, so a second (or concurrent) release changes nothing.
      const result = await trx.raw(
        `WITH released AS (
           UPDATE reservations SET status = 'released', updated_at = now()
            WHERE cart_id = ? AND status = 'held' ${onlyExpired ? 'AND expires_at <= now()' : ''}
            RETURNING variant_id, store_id, quantity
         ), per_variant AS (
           SELECT variant_id, store_id, sum(quantity)::int AS quantity, count(*)::int AS n FROM released GROUP BY variant_id, store_id
         ), returned AS (
           UPDATE inventory i SET reserved = i.reserved - p.quantity, updated_at = now()
             FROM per_variant p
            WHERE i.variant_id = p.variant_id AND i.store_id = p.store_id
            RETURNING i.variant_id
         )
         SELECT p.variant_id, p.n, p.quantity, v.hot
           FROM per_variant p JOIN returned r ON r.variant_id = p.variant_id
           JOIN variants v ON v.id = p.variant_id AND v.store_id = p.store_id`,
        [cartId],
      );
      const rows = result.rows as { variant_id: string; n: number; quantity: number; hot: boolean }[];
      hotReturned = rows.filter((r) => r.hot).map((r) => ({ variant_id: r.variant_id, quantity: Number(r.quantity) }));
      return { released: rows.reduce((s, r) => s + r.n, 0), variantIds: rows.map((r) => r.variant_id) };
    }),
  );
  // Committed: units of hot variants go back to their Redis counters (where those exist).
  if (hotStock) for (const h of hotReturned) await hotStock.adjust(h.variant_id, h.quantity);
  return outcome;
}

/** Releases every held line of a cart and returns the units to stock. Idempotent. */
export function releaseCart(db: Db, cartId: string, hotStock?: HotStock): Promise<ReleaseResult> {
  return release(db, cartId, false, hotStock);
}

/** Releases only the cart's holds whose expires_at has passed (the TTL workflow's step). Idempotent. */
export function releaseExpired(db: Db, cartId: string, hotStock?: HotStock): Promise<ReleaseResult> {
  return release(db, cartId, true, hotStock);
}

/** Moves every live hold of a cart to the new expiry (cart activity). Returns how many rows moved. */
export async function extendCart(db: Conn, cartId: string, expiresAt: Date): Promise<number> {
  return db('reservations').where({ cart_id: cartId, status: 'held' }).update({ expires_at: expiresAt, updated_at: db.fn.now() });
}

/** The live holds of a cart, per variant. */
export async function heldLines(db: Conn, cartId: string): Promise<Map<string, HeldLine>> {
  const rows = (await db('reservations').where({ cart_id: cartId, status: 'held' }).select('variant_id', 'quantity', 'expires_at')) as HeldLine[];
  return new Map(rows.map((r) => [r.variant_id, r]));
}

/** Milliseconds until the cart's earliest live hold expires (0 when already past), or null without holds. */
export async function msUntilNextExpiry(db: Conn, cartId: string): Promise<number | null> {
  const row = (await db('reservations')
    .where({ cart_id: cartId, status: 'held' })
    // GREATEST ignores NULLs, so no holds (min is NULL) must stay NULL explicitly.
    .first(db.raw('CASE WHEN min(expires_at) IS NULL THEN NULL ELSE GREATEST(0, EXTRACT(EPOCH FROM (min(expires_at) - now())) * 1000)::bigint END AS ms'))) as
    | { ms: string | number | null }
    | undefined;
  return row?.ms === null || row?.ms === undefined ? null : Number(row.ms);
}
