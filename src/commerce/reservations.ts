import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { retryOnConflict, type Db } from '../infra/db';
import type { CheckoutLine, ConfirmReservationsResult } from './contract';
import { holdShardSql } from './holdShards';
import type { HotStock } from './hotStock';

/**
 * Stock holds of carts (DESIGN.md, invariant 1), and every statement that reads or moves them: cart holds,
 * a checkout's confirm / commit / uncommit, the restock of a cancelled order, and the reconciliation's sweep. Postgres is the final gate: a hold takes units only through a
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

export interface AddHoldRequest {
  storeId: string;
  cartId: string;
  variantId: string;
  quantity: number;
  /** How long every hold of the cart lasts from now (RESERVATION_TTL). */
  ttlMs: number;
}

export type AddHoldOutcome =
  /** Held: the line's price now, and every held line of the cart afterwards (all moved to the new expiry). */
  | { kind: 'held'; priceCents: number; lines: HeldLine[] }
  | { kind: 'insufficient'; available: number }
  /** No such variant in the store, a draft product, or no stock kept for it. */
  | { kind: 'unknown' }
  /** The product is not for sale any more (archived). */
  | { kind: 'not_for_sale' };

/**
 * An add to a cart in ONE statement (one round trip, its own transaction): checks the variant is for sale in
 * the store and reads its price, takes the units conditionally (the gate), holds them on the cart's line
 * (created or increased), moves the cart's other held lines to the same new expiry, and returns the cart's held
 * lines. The expiry is Postgres' now() + ttlMs, the clock the hold-expiry sweepers read.
 *
 * Lock order as above: the inventory row, then the line's reservation. The other lines are moved only where
 * no one else holds their row (SKIP LOCKED): whoever does (another add or change of that line, a checkout, a
 * release) is changing it right now, and waiting for it could deadlock two adds of one cart.
 */
export async function holdForAdd(db: Db, r: AddHoldRequest): Promise<AddHoldOutcome> {
  const result = await retryOnConflict(() => preparedQuery(db, HOLD_FOR_ADD, [r.variantId, r.storeId, r.cartId, r.quantity, r.ttlMs / 1000]));
  const row = (result.rows as Array<{ status: string | null; price_cents: number | null; available: number | null; lines: Array<{ variant_id: string; quantity: number; expires_at: string }> | null }>)[0]!;
  // Another store's variant is the same as none (DESIGN.md, invariant 4); so is a draft product.
  if (row.status === null || row.status === 'draft' || row.available === null) return { kind: 'unknown' };
  if (row.status !== 'active') return { kind: 'not_for_sale' };
  // Refused: the figure read with the statement's snapshot may predate the holds it waited for; read it afresh.
  if (!row.lines) return { kind: 'insufficient', available: await available(db, r.storeId, r.variantId).catch(() => 0) };
  const lines = row.lines.map((l) => ({ variant_id: l.variant_id, quantity: l.quantity, expires_at: new Date(l.expires_at) }));
  return { kind: 'held', priceCents: Number(row.price_cents), lines };
}

/** The add statements' first CTE: the variant ($1) in the store ($2), its product's status and its price. */
const VARIANT_FOR_SALE = `WITH v AS (
         SELECT p.status, CAST(p.base_price_cents + v.price_modifier_cents AS int) AS price_cents
           FROM variants v JOIN products p ON p.id = v.product_id AND p.store_id = v.store_id
          WHERE v.id = $1 AND v.store_id = $2
       ),`;

/** holdForAdd's statement: $1 variant, $2 store, $3 cart, $4 units, $5 the holds' duration in seconds. */
const HOLD_FOR_ADD = {
  name: 'pledgeflow_hold_for_add_v1',
  text: `${VARIANT_FOR_SALE} take AS (
         UPDATE inventory i SET reserved = i.reserved + $4, updated_at = now()
          WHERE i.variant_id = $1 AND i.store_id = $2 AND i.total_stock - i.reserved - i.sold >= $4
            AND EXISTS (SELECT 1 FROM v WHERE v.status = 'active')
          RETURNING i.variant_id
       ), hold AS (
         INSERT INTO reservations (store_id, variant_id, cart_id, quantity, expires_at)
         SELECT $2, variant_id, $3, $4, now() + make_interval(secs => $5) FROM take
         ON CONFLICT (cart_id, variant_id) WHERE status = 'held'
           DO UPDATE SET quantity = reservations.quantity + EXCLUDED.quantity, expires_at = EXCLUDED.expires_at, updated_at = now()
         RETURNING variant_id, quantity, expires_at
       ), moved AS (
         UPDATE reservations SET expires_at = now() + make_interval(secs => $5), updated_at = now()
          WHERE id IN (SELECT id FROM reservations
                        WHERE cart_id = $3 AND status = 'held' AND variant_id <> $1 AND EXISTS (SELECT 1 FROM take)
                          FOR UPDATE SKIP LOCKED)
          RETURNING variant_id, quantity, expires_at
       ), lines AS (
         SELECT * FROM hold
         UNION ALL SELECT * FROM moved
         UNION ALL SELECT variant_id, quantity, expires_at FROM reservations
                    WHERE cart_id = $3 AND status = 'held' AND variant_id <> $1
                      AND variant_id NOT IN (SELECT variant_id FROM moved) AND EXISTS (SELECT 1 FROM take)
       )
       SELECT (SELECT status FROM v) AS status, (SELECT price_cents FROM v) AS price_cents,
              (SELECT CAST(GREATEST(0, total_stock - reserved - sold) AS int) FROM inventory WHERE variant_id = $1 AND store_id = $2) AS available,
              (SELECT json_agg(json_build_object('variant_id', variant_id, 'quantity', quantity, 'expires_at', expires_at)) FROM lines) AS lines`,
};

export interface BatchedAdd {
  cartId: string;
  quantity: number;
}

/**
 * Adds of one variant by several carts in ONE statement (group commit: see carts.ts), answered in arrival
 * order as if each had run holdForAdd alone, one after the other: the inventory row is locked once, and the
 * longest prefix of the adds whose units fit is held (each on its own cart's line, every other held line of
 * those carts moved to the new expiry). An add the prefix left out but whose units still fit in what is left
 * (a smaller add behind a larger refused one) runs holdForAdd alone, so no add is refused that would have been
 * held on its own. A cart's second add in one batch runs alone after the statement (a statement may change
 * a row once).
 */
export async function holdForAdds(db: Db, storeId: string, variantId: string, adds: readonly BatchedAdd[], ttlMs: number): Promise<AddHoldOutcome[]> {
  if (adds.length === 1) return [await holdForAdd(db, { storeId, variantId, ttlMs, ...adds[0]! })];
  const seen = new Set<string>();
  const firsts: number[] = [];
  const repeats: number[] = [];
  for (const [i, a] of adds.entries()) {
    if (seen.has(a.cartId)) repeats.push(i);
    else (seen.add(a.cartId), firsts.push(i));
  }
  if (!repeats.length) return holdDistinct(db, storeId, variantId, adds, ttlMs);
  const outcomes: AddHoldOutcome[] = new Array(adds.length);
  const together = await holdDistinct(db, storeId, variantId, firsts.map((i) => adds[i]!), ttlMs);
  firsts.forEach((i, k) => (outcomes[i] = together[k]!));
  for (const i of repeats) outcomes[i] = await holdForAdd(db, { storeId, variantId, ttlMs, ...adds[i]! });
  return outcomes;
}

async function holdDistinct(db: Db, storeId: string, variantId: string, adds: readonly BatchedAdd[], ttlMs: number): Promise<AddHoldOutcome[]> {
  const carts = adds.map((a) => a.cartId);
  const result = await retryOnConflict(() => preparedQuery(db, HOLD_FOR_ADDS, [variantId, storeId, carts, adds.map((a) => a.quantity), ttlMs / 1000]));
  const row = (result.rows as Array<{ status: string | null; price_cents: number | null; free: number | null; taken: number; lines: Array<{ cart_id: string; variant_id: string; quantity: number; expires_at: string }> | null }>)[0]!;
  if (row.status === null || row.status === 'draft' || row.free === null) return adds.map(() => ({ kind: 'unknown' }));
  if (row.status !== 'active') return adds.map(() => ({ kind: 'not_for_sale' }));
  const byCart = new Map<string, HeldLine[]>();
  for (const l of row.lines ?? []) {
    const line = { variant_id: l.variant_id, quantity: l.quantity, expires_at: new Date(l.expires_at) };
    const held = byCart.get(l.cart_id);
    if (held) held.push(line);
    else byCart.set(l.cart_id, [line]);
  }
  const left = Math.max(0, Number(row.free) - row.taken);
  const priceCents = Number(row.price_cents);
  let units = 0;
  const outcomes: AddHoldOutcome[] = [];
  for (const a of adds) {
    units += a.quantity;
    // The statement held exactly the prefix whose running total fits (its `taken`); the rest, in order.
    if (units <= row.taken) outcomes.push({ kind: 'held', priceCents, lines: byCart.get(a.cartId) ?? [] });
    else if (a.quantity <= left) outcomes.push(await holdForAdd(db, { storeId, variantId, ttlMs, ...a }));
    else outcomes.push({ kind: 'insufficient', available: left });
  }
  return outcomes;
}

/**
 * holdForAdds' statement: $1 variant, $2 store, $3 carts (arrival order), $4 their units, $5 the holds' duration
 * in seconds. `inv` locks the inventory row first (FOR UPDATE reads its latest committed version, so `free` is
 * what the UPDATE then sees under the lock); the prefix of adds whose running total fits is held.
 */
const HOLD_FOR_ADDS = {
  name: 'pledgeflow_hold_for_adds_v1',
  text: `${VARIANT_FOR_SALE} inv AS MATERIALIZED (
         SELECT CAST(i.total_stock - i.reserved - i.sold AS int) AS free
           FROM inventory i WHERE i.variant_id = $1 AND i.store_id = $2
            FOR UPDATE
       ), req AS (
         SELECT c.cart_id, c.quantity, sum(c.quantity) OVER (ORDER BY c.ord) AS running
           FROM unnest($3::uuid[], $4::int[]) WITH ORDINALITY AS c(cart_id, quantity, ord)
       ), fit AS MATERIALIZED (
         SELECT req.cart_id, req.quantity FROM req, inv
          WHERE req.running <= inv.free AND EXISTS (SELECT 1 FROM v WHERE v.status = 'active')
       ), take AS (
         UPDATE inventory i SET reserved = i.reserved + t.units, updated_at = now()
           FROM (SELECT CAST(sum(quantity) AS int) AS units FROM fit) t
          WHERE i.variant_id = $1 AND i.store_id = $2 AND t.units > 0 AND i.total_stock - i.reserved - i.sold >= t.units
          RETURNING t.units
       ), hold AS (
         INSERT INTO reservations (store_id, variant_id, cart_id, quantity, expires_at)
         SELECT $2, $1, fit.cart_id, fit.quantity, now() + make_interval(secs => $5) FROM fit WHERE EXISTS (SELECT 1 FROM take)
         ON CONFLICT (cart_id, variant_id) WHERE status = 'held'
           DO UPDATE SET quantity = reservations.quantity + EXCLUDED.quantity, expires_at = EXCLUDED.expires_at, updated_at = now()
         RETURNING cart_id, variant_id, quantity, expires_at
       ), moved AS (
         UPDATE reservations SET expires_at = now() + make_interval(secs => $5), updated_at = now()
          WHERE id IN (SELECT id FROM reservations
                        WHERE cart_id IN (SELECT cart_id FROM fit) AND status = 'held' AND variant_id <> $1 AND EXISTS (SELECT 1 FROM take)
                          FOR UPDATE SKIP LOCKED)
          RETURNING id, cart_id, variant_id, quantity, expires_at
       ), lines AS (
         SELECT * FROM hold
         UNION ALL SELECT cart_id, variant_id, quantity, expires_at FROM moved
         UNION ALL SELECT cart_id, variant_id, quantity, expires_at FROM reservations
                    WHERE cart_id IN (SELECT cart_id FROM fit) AND status = 'held' AND variant_id <> $1
                      AND id NOT IN (SELECT id FROM moved) AND EXISTS (SELECT 1 FROM take)
       )
       SELECT (SELECT status FROM v) AS status, (SELECT price_cents FROM v) AS price_cents, (SELECT free FROM inv) AS free,
              COALESCE((SELECT units FROM take), 0) AS taken,
              (SELECT json_agg(json_build_object('cart_id', cart_id, 'variant_id', variant_id, 'quantity', quantity, 'expires_at', expires_at)) FROM lines) AS lines`,
};

/**
 * A statement run as a named prepared statement on one pooled connection, in its own transaction: Postgres
 * parses and plans it once per connection instead of on every call (the add path runs it once per request).
 */
async function preparedQuery(db: Db, statement: { name: string; text: string }, values: unknown[]): Promise<{ rows: unknown[] }> {
  const conn = (await db.client.acquireConnection()) as { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> };
  try {
    return await conn.query({ ...statement, values });
  } finally {
    await db.client.releaseConnection(conn);
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
  /** The cart lines released (cart, variant). */
  lines: Array<{ cart_id: string; variant_id: string }>;
}

const NOTHING_RELEASED: ReleaseResult = { released: 0, variantIds: [], lines: [] };

/**
 * In `trx`, after the inventory rows of the rows' variants are locked: moves the held rows matching `where` to
 * released and gives their units back. Only rows still held move (the condition is re-checked under the row
 * locks), so a second or concurrent release changes nothing. Hot variants' units to return to Redis go to `hot`.
 */
async function releaseHeldRows(trx: Knex.Transaction, where: string, bindings: Knex.RawBinding[], hot: Array<{ variant_id: string; quantity: number }>): Promise<ReleaseResult> {
  const result = await trx.raw(
    `WITH released AS (
       UPDATE reservations SET status = 'released', updated_at = now()
        WHERE status = 'held' AND ${where}
        RETURNING cart_id, variant_id, store_id, quantity
     ), per_variant AS (
       SELECT variant_id, store_id, sum(quantity)::int AS quantity, count(*)::int AS n,
              json_agg(json_build_object('cart_id', cart_id, 'variant_id', variant_id)) AS lines
         FROM released GROUP BY variant_id, store_id
     ), returned AS (
       UPDATE inventory i SET reserved = i.reserved - p.quantity, updated_at = now()
         FROM per_variant p
        WHERE i.variant_id = p.variant_id AND i.store_id = p.store_id
        RETURNING i.variant_id
     )
     SELECT p.variant_id, p.n, p.quantity, p.lines, v.hot
       FROM per_variant p JOIN returned r ON r.variant_id = p.variant_id
       JOIN variants v ON v.id = p.variant_id AND v.store_id = p.store_id`,
    bindings,
  );
  const rows = result.rows as { variant_id: string; n: number; quantity: number; hot: boolean; lines: ReleaseResult['lines'] }[];
  hot.push(...rows.filter((r) => r.hot).map((r) => ({ variant_id: r.variant_id, quantity: Number(r.quantity) })));
  return { released: rows.reduce((s, r) => s + r.n, 0), variantIds: rows.map((r) => r.variant_id), lines: rows.flatMap((r) => r.lines) };
}

/**
 * Releases the held rows `pick` selects (it returns their ids and variants, unlocked), in one transaction in the
 * lock order above; once committed, hot variants' Redis counters get their units back.
 */
async function releaseHolds(
  db: Db,
  pick: (trx: Knex.Transaction) => Promise<Array<{ id: string; variant_id: string }>>,
  recheck: string,
  hotStock?: HotStock,
): Promise<ReleaseResult> {
  let hotReturned: { variant_id: string; quantity: number }[] = [];
  const outcome = await retryOnConflict(() =>
    db.transaction(async (trx) => {
      hotReturned = [];
      const rows = await pick(trx);
      if (!rows.length) return NOTHING_RELEASED;
      await trx('inventory')
        .whereIn('variant_id', [...new Set(rows.map((r) => r.variant_id))])
        .orderBy('variant_id')
        .forUpdate()
        .select('variant_id');
      return releaseHeldRows(trx, `id = ANY(?::uuid[]) ${recheck}`, [rows.map((r) => r.id)], hotReturned);
    }),
  );
  // Committed: units of hot variants go back to their Redis counters (where those exist).
  if (hotStock) for (const h of hotReturned) await hotStock.adjust(h.variant_id, h.quantity);
  return outcome;
}

function release(db: Db, cartId: string, onlyExpired: boolean, hotStock?: HotStock): Promise<ReleaseResult> {
  const due = onlyExpired ? 'AND expires_at <= now()' : '';
  return releaseHolds(db, (trx) => trx('reservations').where({ cart_id: cartId, status: 'held' }).select('id', 'variant_id'), due, hotStock);
}

/** Releases every held line of a cart and returns the units to stock. Idempotent. */
export function releaseCart(db: Db, cartId: string, hotStock?: HotStock): Promise<ReleaseResult> {
  return release(db, cartId, false, hotStock);
}

/** Releases only the cart's holds whose expires_at has passed. Idempotent. */
export function releaseExpired(db: Db, cartId: string, hotStock?: HotStock): Promise<ReleaseResult> {
  return release(db, cartId, true, hotStock);
}

/**
 * One batch of a hold-expiry sweeper: up to `limit` holds of its shard whose expires_at has passed, released
 * (earliest first). Idempotent: a retried batch finds them released.
 */
export function releaseDueHolds(db: Db, opts: { shard: number; shards: number; limit: number }, hotStock?: HotStock): Promise<ReleaseResult> {
  return releaseHolds(
    db,
    (trx) =>
      trx('reservations')
        .where('status', 'held')
        .andWhere('expires_at', '<=', trx.fn.now())
        .andWhereRaw(`${holdShardSql('variant_id')} = ?`, [opts.shards, opts.shard])
        .orderBy('expires_at')
        .limit(opts.limit)
        .select('id', 'variant_id'),
    'AND expires_at <= now()',
    hotStock,
  );
}

/** When the earliest held hold of a shard expires; null without holds. */
export async function nextShardExpiry(db: Conn, shard: number, shards: number): Promise<Date | null> {
  const row = (await db('reservations')
    .where('status', 'held')
    .andWhereRaw(`${holdShardSql('variant_id')} = ?`, [shards, shard])
    .orderBy('expires_at')
    .first('expires_at')) as { expires_at: Date } | undefined;
  return row?.expires_at ?? null;
}

/**
 * Reconciliation's safety net: up to `limit` held rows past their expiry by more than the grace period (their
 * sweeper is gone or far behind), released. Idempotent.
 */
export function releaseOverdueHolds(db: Db, opts: { graceSeconds: number; storeId?: string; limit: number }, hotStock?: HotStock): Promise<ReleaseResult> {
  const overdue = `AND expires_at < now() - make_interval(secs => ${Number(opts.graceSeconds)})`;
  return releaseHolds(
    db,
    (trx) => {
      const q = trx('reservations')
        .where('status', 'held')
        .andWhere('expires_at', '<', trx.raw('now() - make_interval(secs => ?)', [opts.graceSeconds]))
        .orderBy('expires_at')
        .limit(opts.limit)
        .select('id', 'variant_id');
      if (opts.storeId) q.andWhere('store_id', opts.storeId);
      return q;
    },
    overdue,
    hotStock,
  );
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


/** Inventory rows first (the lock order above), in a stable order. */
async function lockInventory(trx: Knex.Transaction, storeId: string, variantIds: string[]): Promise<void> {
  await trx('inventory').whereIn('variant_id', [...new Set(variantIds)]).andWhere({ store_id: storeId }).orderBy('variant_id').forUpdate().select('variant_id');
}

/**
 * Milliseconds until the earliest live hold of one cart, or of the carts a subquery names, expires (0 when
 * already past); null without holds.
 */
export async function msUntilNextExpiry(db: Conn, carts: string | Knex.QueryBuilder): Promise<number | null> {
  const q = db('reservations').where({ status: 'held' });
  if (typeof carts === 'string') q.andWhere({ cart_id: carts });
  else q.whereIn('cart_id', carts);
  // GREATEST ignores NULLs, so no holds (min is NULL) must stay NULL explicitly.
  const row = (await q.first(db.raw('CASE WHEN min(expires_at) IS NULL THEN NULL ELSE GREATEST(0, EXTRACT(EPOCH FROM (min(expires_at) - now())) * 1000)::bigint END AS ms'))) as
    | { ms: string | number | null }
    | undefined;
  return row?.ms === null || row?.ms === undefined ? null : Number(row.ms);
}

/** Whether a cart's hold is live (until its earliest live hold ends) and whether any of its holds was sold. */
export async function holdState(db: Conn, cartId: string): Promise<{ until: Date | null; bought: boolean }> {
  const row = (await db('reservations')
    .where({ cart_id: cartId })
    .first(db.raw("min(expires_at) FILTER (WHERE status = 'held') AS until"), db.raw("bool_or(status = 'committed') AS bought"))) as { until: Date | null; bought: boolean | null };
  return { until: row.until, bought: row.bought === true };
}

/**
 * Conditions on a cart's reservations for statements about other tables (waiting-room places, lottery entries)
 * that must read the holds in the same statement. `cart` is the SQL expression holding the cart id.
 */
export const cartHolds = {
  /** Some hold of the cart was sold (committed by a checkout). */
  sold: (cart: string) => `EXISTS (SELECT 1 FROM reservations r WHERE r.cart_id = ${cart} AND r.status = 'committed')`,
  /** The cart holds something now. */
  held: (cart: string) => `EXISTS (SELECT 1 FROM reservations r WHERE r.cart_id = ${cart} AND r.status = 'held')`,
  /** The cart holds something past the instant bound to this fragment's one `?`. */
  heldPast: (cart: string) => `EXISTS (SELECT 1 FROM reservations r WHERE r.cart_id = ${cart} AND r.status = 'held' AND r.expires_at > ?)`,
  /** When the cart's last live hold ends (NULL without one). */
  lastHoldEnd: (cart: string) => `(SELECT max(r.expires_at) FROM reservations r WHERE r.cart_id = ${cart} AND r.status = 'held')`,
};

// ------------------------------------------------------------------------------------------- checkout

/**
 * A checkout's holds were released, changed or sold to another checkout (or its drop is sold out) before the
 * step could use them: nothing was sold. `held`: what each line (in reservationIds order) holds for the cart
 * afterwards, when the commit found out.
 */
export class ReservationsLostError extends Error {
  constructor(
    message: string,
    readonly held?: number[],
  ) {
    super(message);
    this.name = 'ReservationsLostError';
  }
}

/**
 * Checks that every line is still held for the cart (same quantity) and pushes the holds' expiry out by
 * holdMs, so the cart's TTL workflow does not release them while the checkout runs.
 */
export async function confirmCheckoutHolds(db: Db, input: { cartId: string; storeId: string; items: CheckoutLine[]; holdMs: number }): Promise<ConfirmReservationsResult> {
  return retryOnConflict(() =>
    db.transaction(async (trx) => {
      await lockInventory(trx, input.storeId, input.items.map((i) => i.variant_id));
      const rows = (await trx('reservations')
        .where({ cart_id: input.cartId, store_id: input.storeId, status: 'held' })
        .whereIn('variant_id', input.items.map((i) => i.variant_id))
        .forUpdate()
        .select('id', 'variant_id', 'quantity')) as Array<{ id: string; variant_id: string; quantity: number }>;
      const byVariant = new Map(rows.map((r) => [r.variant_id, r]));
      const missing = input.items
        .filter((i) => byVariant.get(i.variant_id)?.quantity !== i.quantity)
        .map((i) => ({ variant_id: i.variant_id, requested: i.quantity, held: byVariant.get(i.variant_id)?.quantity ?? 0 }));
      if (missing.length) return { ok: false, reservationIds: [], missing };
      const ids = input.items.map((i) => byVariant.get(i.variant_id)!.id);
      await trx('reservations')
        .whereIn('id', ids)
        .update({ expires_at: trx.raw('GREATEST(expires_at, now() + make_interval(secs => ?))', [input.holdMs / 1000]), updated_at: trx.fn.now() });
      return { ok: true, reservationIds: ids, missing: [] };
    }),
  );
}

/**
 * Adds (+1, right after the commit moved every line) or removes (-1, before the uncommit moves them back) the
 * units of the checkout's committed reservations to the drop's sold count. Both callers run it only in the
 * transaction that changes those rows, so a retried step never counts twice. With a checkout key, only the
 * rows that checkout committed count: another checkout's sale of the same cart is not this one's to undo.
 */
async function countDropSale(trx: Knex.Transaction, storeId: string, dropId: string, reservationIds: string[], checkoutKey: string | null, sign: 1 | -1): Promise<void> {
  const [row] = (await trx('reservations')
    .whereIn('id', reservationIds)
    .andWhere({ store_id: storeId, status: 'committed', ...(checkoutKey === null ? {} : { checkout_key: checkoutKey }) })
    .sum<{ units: string | null }[]>('quantity as units')) as Array<{ units: string | null }>;
  const units = Number(row?.units ?? 0);
  if (units === 0) return;
  try {
    await trx('drops')
      .where({ id: dropId, store_id: storeId })
      .update({ sold: trx.raw('sold + ?', [sign * units]), updated_at: trx.fn.now() });
  } catch (err) {
    // The drop's CHECK (sold <= quantity) is the last gate; retrying cannot make room, so the saga compensates.
    if ((err as { constraint?: string }).constraint === 'drops_no_oversell') throw new ReservationsLostError('The drop is sold out.');
    throw err;
  }
}

export interface CommitRequest {
  storeId: string;
  reservationIds: string[];
  quantities?: number[];
  dropId?: string | null;
  /** Histories from before this field carry none: their rows are committed unclaimed (checkout_key null). */
  checkoutKey?: string;
}

/**
 * Held reservations become sold to this checkout: reservations 'committed' with its `checkoutKey`, inventory
 * reserved -= n, sold += n. A retry finds them committed to it and changes nothing. Holds released meanwhile,
 * or sold to another checkout of the same cart (another Idempotency-Key: a second tab), fail with
 * ReservationsLostError, so only one checkout of a cart ever sells (and captures) its holds.
 * Only the quantities the checkout charged for (`quantities`, one per reservation) are sold: a line the
 * shopper changed while the checkout ran fails the same way, nothing sold, with what is held now (`held`).
 * A drop's cart also counts its units as sold by the drop, in the same transaction, so `drops.sold` can never
 * disagree with what was sold (and the drop's own CHECK refuses more than its quantity).
 */
export async function commitCheckoutHolds(db: Db, input: CommitRequest): Promise<{ committed: number }> {
  // Histories from before `quantities` existed carry none: those commits are not checked.
  const checked = input.quantities !== undefined;
  const quantities = input.reservationIds.map((_id, i) => input.quantities?.[i] ?? 0);
  const key = input.checkoutKey ?? null;
  return retryOnConflict(() =>
    db.transaction(async (trx) => {
      const rows = (await trx('reservations').whereIn('id', input.reservationIds).andWhere({ store_id: input.storeId }).select('id', 'variant_id', 'status')) as Array<{
        id: string;
        variant_id: string;
        status: string;
      }>;
      await lockInventory(trx, input.storeId, rows.map((r) => r.variant_id));
      const moved = await trx.raw(
        `WITH moved AS (
           UPDATE reservations r SET status = 'committed', checkout_key = ?, updated_at = now()
             FROM unnest(?::uuid[], ?::int[]) AS e(id, quantity)
            WHERE r.id = e.id AND r.store_id = ? AND r.status = 'held' AND (NOT ?::boolean OR r.quantity = e.quantity)
            RETURNING r.variant_id, r.quantity
         ), per_variant AS (
           SELECT variant_id, sum(quantity)::int AS quantity FROM moved GROUP BY variant_id
         )
         UPDATE inventory i SET reserved = i.reserved - p.quantity, sold = i.sold + p.quantity, updated_at = now()
           FROM per_variant p
          WHERE i.variant_id = p.variant_id AND i.store_id = ?
          RETURNING i.variant_id`,
        [key, input.reservationIds, quantities, input.storeId, checked, input.storeId],
      );
      const changed = (moved.rows as unknown[]).length;
      if (input.dropId && changed > 0) await countDropSale(trx, input.storeId, input.dropId, input.reservationIds, key, +1);
      const after = (await trx('reservations')
        .whereIn('id', input.reservationIds)
        .andWhere({ store_id: input.storeId })
        .select('id', 'status', 'quantity', 'checkout_key')) as Array<{ id: string; status: string; quantity: number; checkout_key: string | null }>;
      // Sold to this checkout (without a key, as before the column: committed at all).
      const ours = (r: { status: string; checkout_key: string | null }) => r.status === 'committed' && (key === null || r.checkout_key === key);
      if (after.length !== input.reservationIds.length || !after.every(ours)) {
        // Roll the transaction back: nothing is sold unless every line is, as charged, to this checkout. `held`
        // says what each line (in reservationIds order) holds for the cart once this rollback has undone the
        // commit: what this call moved is held again; released or another checkout's sale is 0.
        const byId = new Map(after.map((r) => [r.id, r]));
        const held = input.reservationIds.map((id) => {
          const r = byId.get(id);
          return r && (r.status === 'held' || ours(r)) ? r.quantity : 0;
        });
        throw new ReservationsLostError('Some reservations of this checkout were released, changed or sold to another checkout of the cart before they could be committed.', held);
      }
      return { committed: changed };
    }),
  );
}

/**
 * Compensation of the commit: the reservations this checkout committed go back to stock (sold -= n), and a
 * hot variant's Redis counter gets its units back once that is committed (the counter may only ever be
 * ahead of Postgres, see hotStock.ts). With a checkout key, rows another checkout sold are left alone.
 * Idempotent.
 */
export async function uncommitCheckoutHolds(
  db: Db,
  input: { storeId: string; reservationIds: string[]; dropId?: string | null; checkoutKey?: string },
  hotStock: HotStock,
): Promise<{ restocked: number }> {
  const key = input.checkoutKey ?? null;
  let hotReturned: Array<{ variant_id: string; quantity: number }> = [];
  const outcome = await retryOnConflict(() =>
    db.transaction(async (trx) => {
      hotReturned = [];
      const rows = (await trx('reservations').whereIn('id', input.reservationIds).andWhere({ store_id: input.storeId }).select('variant_id')) as Array<{ variant_id: string }>;
      await lockInventory(trx, input.storeId, rows.map((r) => r.variant_id));
      // Counted before the rows change: only what is still committed (to this checkout) is given back.
      if (input.dropId) await countDropSale(trx, input.storeId, input.dropId, input.reservationIds, key, -1);
      const result = await trx.raw(
        `WITH moved AS (
           UPDATE reservations SET status = 'released', updated_at = now()
            WHERE id = ANY(?::uuid[]) AND store_id = ? AND status = 'committed' AND (?::text IS NULL OR checkout_key = ?::text)
            RETURNING variant_id, quantity
         ), per_variant AS (
           SELECT variant_id, sum(quantity)::int AS quantity FROM moved GROUP BY variant_id
         ), restocked AS (
           UPDATE inventory i SET sold = i.sold - p.quantity, updated_at = now()
             FROM per_variant p
            WHERE i.variant_id = p.variant_id AND i.store_id = ?
            RETURNING i.variant_id
         )
         SELECT p.variant_id, p.quantity, v.hot
           FROM per_variant p JOIN restocked r ON r.variant_id = p.variant_id
           JOIN variants v ON v.id = p.variant_id AND v.store_id = ?`,
        [input.reservationIds, input.storeId, key, key, input.storeId, input.storeId],
      );
      const restocked = result.rows as Array<{ variant_id: string; quantity: number; hot: boolean }>;
      hotReturned = restocked.filter((r) => r.hot).map((r) => ({ variant_id: r.variant_id, quantity: Number(r.quantity) }));
      return { restocked: restocked.length };
    }),
  );
  // Committed: the units are free again in Postgres, so the counter (where it exists) follows.
  for (const h of hotReturned) await hotStock.adjust(h.variant_id, h.quantity);
  return outcome;
}

/**
 * Sold units of a cancelled order go back on sale, inside the order's transaction (inventory rows locked in a
 * fixed order). GREATEST: never below zero, even if the owner's stock edits already absorbed part of it.
 */
export async function restockSold(trx: Knex.Transaction, storeId: string, items: Array<{ variant_id: string; quantity: number }>): Promise<void> {
  const perVariant = new Map<string, number>();
  for (const i of items) perVariant.set(i.variant_id, (perVariant.get(i.variant_id) ?? 0) + i.quantity);
  const ids = [...perVariant.keys()].sort();
  if (!ids.length) return;
  await lockInventory(trx, storeId, ids);
  for (const id of ids) {
    await trx('inventory')
      .where({ variant_id: id, store_id: storeId })
      .update({ sold: trx.raw('GREATEST(sold - ?, 0)', [perVariant.get(id)!]), updated_at: trx.fn.now() });
  }
}
