import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { changeLines } from '../../commerce/carts';
import { HotStock } from '../../commerce/hotStock';
import { heldLines, releaseCart } from '../../commerce/reservations';
import { retryOnConflict } from '../../infra/db';
import type { ActivityDeps } from '../../workers/deps';
import { type CheckoutLine, type ConfirmReservationsResult, type PriceCheckResult, RESERVATIONS_LOST } from '../../commerce/contract';

/**
 * The checkout workflow's database steps (main task queue). Every step is idempotent, so a retried or replayed
 * activity changes nothing twice: the order is keyed by checkout_key (ON CONFLICT), reservations move only from
 * the status they are expected in, and the cancellation compensation only cancels an order that is not yet.
 * Payment steps are the payment activities on the payments task queue.
 */

/** Inventory rows first (the lock order of src/commerce/reservations.ts), in a stable order. */
async function lockInventory(trx: Knex.Transaction, storeId: string, variantIds: string[]): Promise<void> {
  await trx('inventory').whereIn('variant_id', [...new Set(variantIds)]).andWhere({ store_id: storeId }).orderBy('variant_id').forUpdate().select('variant_id');
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
    if ((err as { constraint?: string }).constraint === 'drops_no_oversell') {
      throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: 'The drop is sold out.', nonRetryable: true });
    }
    throw err;
  }
}

export function createCheckoutActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const hotStock = new HotStock(redis, db, logger);
  const removeLines = async (cartId: string, variantIds: string[]) => {
    if (variantIds.length) await changeLines(redis, cartId, 'remove', variantIds.map((variantId) => ({ variantId, quantity: 0, unitPriceCents: 0 })), 0);
  };

  return {
    /**
     * The price each line would be sold at now: the catalog price (base + modifier) of an active product, or the
     * drop's price for a cart a drop opened. A line priced differently in the cart is reported, never charged.
     */
    async checkCheckoutPrices(input: { storeId: string; dropId?: string | null; items: CheckoutLine[] }): Promise<PriceCheckResult> {
      const current = new Map<string, number>();
      if (input.dropId) {
        const drop = (await db('drops').where({ id: input.dropId, store_id: input.storeId }).first('variant_id', 'price_cents')) as
          | { variant_id: string; price_cents: string | number }
          | undefined;
        if (drop) current.set(drop.variant_id, Number(drop.price_cents));
      } else {
        const rows = (await db('variants as v')
          .join('products as p', function () {
            this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
          })
          .where({ 'v.store_id': input.storeId, 'p.status': 'active' })
          .whereIn('v.id', input.items.map((i) => i.variant_id))
          .select('v.id', db.raw('p.base_price_cents + v.price_modifier_cents AS price_cents'))) as Array<{ id: string; price_cents: string | number }>;
        for (const r of rows) current.set(r.id, Number(r.price_cents));
      }
      return {
        changed: input.items
          .filter((i) => current.get(i.variant_id) !== i.unit_price_cents)
          .map((i) => ({ variant_id: i.variant_id, cart_unit_price_cents: i.unit_price_cents, current_unit_price_cents: current.get(i.variant_id) ?? null })),
      };
    },

    /**
     * Checks that every line is still held for the cart (same quantity) and pushes the holds' expiry out by
     * holdMs, so the cart's TTL workflow does not release them while the checkout runs.
     */
    async confirmCheckoutReservations(input: { cartId: string; storeId: string; items: CheckoutLine[]; holdMs: number }): Promise<ConfirmReservationsResult> {
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
    },

    /**
     * Creates the order (confirmed), its items and its history once per checkout key. Returns its id.
     *
     * Only while the checkout's holds are held (`reservationIds`): they are locked (FOR SHARE) and checked first,
     * so an attempt that runs late — its checkout timed out meanwhile and gave the holds back — refuses
     * (RESERVATIONS_LOST) instead of leaving a confirmed order no one pays for; and one that got there first
     * makes the release wait until its order is committed, where the checkout's compensation then cancels it.
     */
    async createCheckoutOrder(input: {
      checkoutKey: string;
      cartId: string;
      storeId: string;
      customerId: string | null;
      currency: string;
      items: CheckoutLine[];
      shippingAddress: Record<string, unknown>;
      billingAddress: Record<string, unknown> | null;
      paymentKey: string;
      /** Histories from before this field carry none: those orders are not checked against the holds. */
      reservationIds?: string[];
    }): Promise<{ orderId: string; created: boolean }> {
      return db.transaction(async (trx) => {
        if (input.reservationIds) {
          const held = (await trx('reservations')
            .whereIn('id', input.reservationIds)
            .andWhere({ store_id: input.storeId, status: 'held' })
            .forShare()
            .pluck('id')) as string[];
          if (held.length !== new Set(input.reservationIds).size) {
            throw ApplicationFailure.create({
              type: RESERVATIONS_LOST,
              message: 'The holds of this checkout were given back before its order could be created.',
              nonRetryable: true,
            });
          }
        }
        const subtotal = input.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
        const inserted = await trx.raw(
          `INSERT INTO orders (store_id, customer_id, cart_id, checkout_key, status, currency, subtotal_cents, total_cents,
                               shipping_address, billing_address, payment_key)
           VALUES (?, ?, ?, ?, 'confirmed', ?, ?, ?, ?::jsonb, ?::jsonb, ?)
           ON CONFLICT (checkout_key) DO NOTHING
           RETURNING id`,
          [
            input.storeId,
            input.customerId,
            input.cartId,
            input.checkoutKey,
            input.currency,
            subtotal,
            subtotal,
            JSON.stringify(input.shippingAddress),
            input.billingAddress ? JSON.stringify(input.billingAddress) : null,
            input.paymentKey,
          ],
        );
        const row = (inserted.rows as Array<{ id: string }>)[0];
        if (!row) {
          const existing = (await trx('orders').where({ checkout_key: input.checkoutKey }).first('id')) as { id: string };
          return { orderId: existing.id, created: false };
        }
        const catalog = (await trx('variants as v')
          .join('products as p', function () {
            this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
          })
          .where('v.store_id', input.storeId)
          .whereIn('v.id', input.items.map((i) => i.variant_id))
          .select('v.id', 'v.sku', 'p.name')) as Array<{ id: string; sku: string; name: string }>;
        const byId = new Map(catalog.map((c) => [c.id, c]));
        await trx('order_items').insert(
          input.items.map((i) => ({
            order_id: row.id,
            variant_id: i.variant_id,
            sku: byId.get(i.variant_id)?.sku ?? i.variant_id,
            name: byId.get(i.variant_id)?.name ?? 'Unknown item',
            quantity: i.quantity,
            unit_price_cents: i.unit_price_cents,
          })),
        );
        await trx('order_status_history').insert([
          { order_id: row.id, from_status: null, to_status: 'pending', actor: 'system', reason: 'checkout started' },
          { order_id: row.id, from_status: 'pending', to_status: 'confirmed', actor: 'system', reason: 'payment authorized' },
        ]);
        return { orderId: row.id, created: true };
      });
    },

    /** Compensation: the order (if any) becomes cancelled, with its history row. Idempotent. */
    async cancelCheckoutOrder(input: { checkoutKey: string; reason: string }): Promise<{ cancelled: boolean }> {
      return db.transaction(async (trx) => {
        const order = (await trx('orders').where({ checkout_key: input.checkoutKey }).forUpdate().first('id', 'status')) as
          | { id: string; status: string }
          | undefined;
        if (!order || order.status === 'cancelled') return { cancelled: false };
        await trx('orders').where({ id: order.id }).update({ status: 'cancelled', updated_at: trx.fn.now() });
        await trx('order_status_history').insert({ order_id: order.id, from_status: order.status, to_status: 'cancelled', actor: 'system', reason: input.reason });
        return { cancelled: true };
      });
    },

    /**
     * Held reservations become sold to this checkout: reservations 'committed' with its `checkoutKey`, inventory
     * reserved -= n, sold += n. A retry finds them committed to it and changes nothing. Holds released meanwhile,
     * or sold to another checkout of the same cart (another Idempotency-Key: a second tab), fail non-retryably
     * (RESERVATIONS_LOST), so only one checkout of a cart ever sells (and captures) its holds.
     * Only the quantities the checkout charged for (`quantities`, one per reservation) are sold: a line the
     * shopper changed while the checkout ran fails the same way, nothing sold, with what is held now (details).
     * A drop's cart also counts its units as sold by the drop, in the same transaction, so `drops.sold` can never
     * disagree with what was sold (and the drop's own CHECK refuses more than its quantity).
     */
    async commitCheckoutReservations(input: {
      storeId: string;
      reservationIds: string[];
      quantities?: number[];
      dropId?: string | null;
      /** Histories from before this field carry none: their rows are committed unclaimed (checkout_key null). */
      checkoutKey?: string;
    }): Promise<{ committed: number }> {
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
            // Roll the transaction back: nothing is sold unless every line is, as charged, to this checkout. The
            // details say what each line (in reservationIds order) holds for the cart once this rollback has
            // undone the commit: what this call moved is held again; released or another checkout's sale is 0.
            const byId = new Map(after.map((r) => [r.id, r]));
            const held = input.reservationIds.map((id) => {
              const r = byId.get(id);
              return r && (r.status === 'held' || ours(r)) ? r.quantity : 0;
            });
            throw ApplicationFailure.create({
              type: RESERVATIONS_LOST,
              message: 'Some reservations of this checkout were released, changed or sold to another checkout of the cart before they could be committed.',
              nonRetryable: true,
              details: [{ held }],
            });
          }
          return { committed: changed };
        }),
      );
    },

    /**
     * Compensation of the commit: the reservations this checkout committed go back to stock (sold -= n), and a
     * hot variant's Redis counter gets its units back once that is committed (the counter may only ever be
     * ahead of Postgres, see hotStock.ts). With a checkout key, rows another checkout sold are left alone.
     * Idempotent.
     */
    async uncommitCheckoutReservations(input: { storeId: string; reservationIds: string[]; dropId?: string | null; checkoutKey?: string }): Promise<{ restocked: number }> {
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
    },

    /**
     * A checkout that ran out of time gives the cart's holds back to stock at once (they are past its promise),
     * and their lines leave the cart document as when holds expire (src/activities/commerce/cartReservations.ts), so adding them
     * again holds them afresh. Run before the other compensations: from here on createCheckoutOrder finds the
     * holds gone and refuses, so no order can land after the checkout gave up (see there).
     */
    async releaseCheckoutHolds(input: { cartId: string }): Promise<{ released: number }> {
      const result = await releaseCart(db, input.cartId, hotStock);
      // Not a line the shopper has held again meanwhile.
      const stillHeld = await heldLines(db, input.cartId);
      try {
        await removeLines(input.cartId, result.variantIds.filter((v) => !stillHeld.has(v)));
      } catch (err) {
        // Best effort: the stock is back either way, and the cart's reads show which lines are no longer held.
        logger.warn({ err, cartId: input.cartId }, 'cart document not updated after its checkout expired');
      }
      return { released: result.released };
    },

    /** The checked-out lines leave the cart document (best effort: the document may be gone already). */
    async emptyCheckoutCart(input: { cartId: string; variantIds: string[] }): Promise<void> {
      try {
        await removeLines(input.cartId, input.variantIds);
      } catch (err) {
        logger.warn({ err, cartId: input.cartId }, 'cart document not emptied after checkout');
        throw err;
      }
    },
  };
}
