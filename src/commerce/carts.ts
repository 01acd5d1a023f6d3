import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import { createGroupCommit } from '../infra/keyedGroupCommit';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { TemporalTimeoutError, type TemporalClientProvider } from '../temporal/client';
import { cartTtlMs, changeLines, claimCart, createCart, loadCart, loadCartDoc, type CartDoc, type StoredCart } from './cartDocuments';
import { findStore } from './catalog';
import { holdSweepersOnce } from './holdSweepers';
import { HotStock } from './hotStock';
import { extendCart, heldLines, holdForAdds, InsufficientStockError, releaseCart, setQuantity, UnknownVariantError, type AddHoldOutcome, type HeldLine } from './reservations';

/**
 * Shoppers' carts: a document per cart in Redis (what the shopper wants, at which price), stock holds in
 * Postgres (the truth), and the hold-expiry sweepers (src/workflows/commerce/holdExpiry.ts) that return holds
 * to stock RESERVATION_TTL after the cart's last activity. Guests may have carts (addressed by their unguessable
 * id); a signed-in shopper's cart is theirs alone, and answers anyone else like an unknown id (404).
 *
 * Order of every change: the sweepers are known to run (once per process), then stock is taken and every hold
 * of the cart moves to the new expiry, then the document. A hold never exists without the timer that will
 * release it, and an add pays no Temporal round trip (see holdExpiry.ts for why no signal is needed).
 */

export const MAX_LINE_QUANTITY = 100;

export interface CartDeps {
  config: Pick<Config, 'TASK_QUEUE' | 'RESERVATION_TTL' | 'TEMPORAL_UPDATE_TIMEOUT' | 'CART_TTL_GUEST' | 'CART_TTL_USER' | 'HOLD_EXPIRY_SHARDS'>;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  temporal: TemporalClientProvider;
}

interface VariantForSale {
  id: string;
  status: string;
  price_cents: number;
  hot: boolean;
}

/** Whether the caller may use the cart: a signed-in owner's cart is theirs alone; a guest cart is anyone's who has the id. */
export const mayUseCart = (doc: CartDoc, callerId: string | undefined) => doc.owner_id === null || doc.owner_id === callerId;

const insufficient = (err: InsufficientStockError) =>
  refusals.conflict('insufficient_stock', `Only ${err.available} unit(s) are available.`, { variant_id: err.variantId, available: err.available });

export function createCartService(deps: CartDeps) {
  const { db, redis, config } = deps;
  /** Redis pre-filter for hot (flash-sale) variants; Postgres stays the final gate. */
  const hotStock = new HotStock(redis, db, deps.logger);
  const sweepersRunning = holdSweepersOnce(deps);
  /** Whether a variant is hot, per store and variant: fixed when the variant is made, so read once per process. */
  const hotVariants = new Map<string, boolean>();
  /**
   * Group commit of the adds' Postgres statement, per variant: adds arriving while the variant's last
   * statement runs go in the next one together (one lock of the inventory row, one round trip, one commit).
   */
  const holdTogether = createGroupCommit<{ storeId: string; variantId: string; cartId: string; quantity: number }, AddHoldOutcome>((_key, adds) =>
    holdForAdds(db, adds[0]!.storeId, adds[0]!.variantId, adds, config.RESERVATION_TTL),
  );

  async function accessibleCart(cartId: string, callerId: string | undefined): Promise<StoredCart> {
    const cart = await loadCart(redis, cartId);
    if (!cart || !mayUseCart(cart.doc, callerId)) throw refusals.notFound('cart');
    return cart;
  }

  /**
   * A cart whose lines the shopper may change. A drop's cart is not one: its single unit is the drop's, at the
   * drop's price, for one admission or one win; more units, or activity that keeps pushing the hold back, would
   * let one shopper keep a slot others are waiting for. It is checked out as it is, or given up through the drop.
   */
  async function editableCart(cartId: string, callerId: string | undefined): Promise<Pick<StoredCart, 'doc'>> {
    // The document alone: the change answers with the TTL it sets.
    const doc = await loadCartDoc(redis, cartId);
    if (!doc || !mayUseCart(doc, callerId)) throw refusals.notFound('cart');
    const cart = { doc };
    if (cart.doc.drop_id) {
      throw refusals.conflict('drop_cart_locked', "This cart holds a drop's unit and cannot be changed; check it out as it is, or give it up through the drop.", {
        cart_id: cart.doc.id,
        drop_id: cart.doc.drop_id,
      });
    }
    return cart;
  }

  async function variantForSale(storeId: string, variantId: string): Promise<VariantForSale> {
    const row = (await db('variants as v')
      .join('products as p', function () {
        this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
      })
      .where({ 'v.id': variantId, 'v.store_id': storeId })
      .first('v.id', 'p.status', 'v.hot', db.raw('p.base_price_cents + v.price_modifier_cents AS price_cents'))) as VariantForSale | undefined;
    // Another store's variant is the same 404 as none (DESIGN.md, invariant 4); so is a draft product.
    if (!row || row.status === 'draft') throw refusals.notFound('variant in this store');
    if (row.status !== 'active') throw refusals.unprocessable('product_unavailable', 'This product is no longer for sale.', { variant_id: variantId });
    return { ...row, price_cents: Number(row.price_cents) };
  }

  async function render(cart: StoredCart, heldNow?: HeldLine[]) {
    const held = heldNow ? new Map(heldNow.map((l) => [l.variant_id, l])) : await heldLines(db, cart.doc.id);
    const items = cart.doc.items.map((i) => ({
      variant_id: i.variant_id,
      quantity: i.quantity,
      unit_price_cents: i.unit_price_cents,
      line_total_cents: i.quantity * i.unit_price_cents,
      reserved_until: held.get(i.variant_id)?.expires_at.toISOString() ?? null,
    }));
    return {
      id: cart.doc.id,
      store_id: cart.doc.store_id,
      currency: cart.doc.currency,
      items,
      subtotal_cents: items.reduce((s, i) => s + i.line_total_cents, 0),
      expires_at: cart.expiresAt.toISOString(),
    };
  }

  /** The hold-expiry sweepers run (a Temporal round trip only the first time): every hold needs its timer. */
  async function timersRunning(): Promise<void> {
    try {
      await sweepersRunning();
    } catch (err) {
      if (err instanceof TemporalTimeoutError) throw err;
      throw refusals.unavailable('workflow_unavailable', 'The cart could not be updated right now; retry shortly. Retrying is safe.', 5);
    }
  }

  /** Whether the variant is hot; the first ask per variant reads it (and refuses one not for sale). */
  async function isHot(storeId: string, variantId: string): Promise<boolean> {
    const key = `${storeId}/${variantId}`;
    let hot = hotVariants.get(key);
    if (hot === undefined) {
      hot = (await variantForSale(storeId, variantId)).hot;
      if (hotVariants.size >= 10_000) hotVariants.clear();
      hotVariants.set(key, hot);
    }
    return hot;
  }

  /** Takes stock for a line, answering a shortage or an unknown variant as the shopper's refusal. */
  async function holding(take: () => Promise<unknown>): Promise<void> {
    try {
      await take();
    } catch (err) {
      if (err instanceof InsufficientStockError) throw insufficient(err);
      if (err instanceof UnknownVariantError) throw refusals.notFound('variant in this store');
      throw err;
    }
  }

  /** After a stock change: every hold of the cart moves to the new expiry, and the document follows. */
  async function finish(cart: Pick<StoredCart, 'doc'>, mode: 'set', variantId: string, quantity: number, unitPriceCents: number) {
    await extendCart(db, cart.doc.id, new Date(Date.now() + config.RESERVATION_TTL));
    const updated = await changeLines(redis, cart.doc.id, mode, [{ variantId, quantity, unitPriceCents }], cartTtlMs(config, cart.doc.owner_id));
    if (!updated) return gone(cart);
    return render(updated);
  }

  /** The document expired in between: nothing may stay held for a cart no one can see. */
  async function gone(cart: Pick<StoredCart, 'doc'>): Promise<never> {
    await releaseCart(db, cart.doc.id, hotStock);
    throw refusals.notFound('cart');
  }

  return {
    /** A new, empty cart in the store, the caller's (or a guest cart without a caller). */
    async open(storeId: string, callerId: string | undefined) {
      const store = await findStore(db, storeId);
      if (!store) throw refusals.notFound('store');
      const ownerId = callerId ?? null;
      const doc = { id: randomUUID(), store_id: store.id, store_slug: store.slug, currency: store.currency, owner_id: ownerId, items: [], created_at: new Date().toISOString() };
      return render(await createCart(redis, doc, cartTtlMs(config, ownerId)));
    },

    /**
     * A guest cart made the signed-in caller's, as a shopper signs in with items in it: from then on only their
     * token opens it. Their own cart answers as it is; another account's, like an unknown id.
     */
    async claim(cartId: string, callerId: string) {
      const cart = await claimCart(redis, cartId, callerId, config.CART_TTL_USER);
      if (!cart) throw refusals.notFound('cart');
      return render(cart);
    },

    /** The cart with its lines and how long each is held. */
    read: async (cartId: string, callerId: string | undefined) => render(await accessibleCart(cartId, callerId)),

    /**
     * Adds units of a variant to a line, held for RESERVATION_TTL from now: the cart document, for a hot variant
     * the Redis pre-filter, ONE Postgres statement shared with the variant's other adds queued meanwhile
     * (holdForAdds), and the document again.
     */
    async addItem(cartId: string, variantId: string, quantity: number, callerId: string | undefined) {
      const cart = await editableCart(cartId, callerId);
      const line = cart.doc.items.find((i) => i.variant_id === variantId);
      if ((line?.quantity ?? 0) + quantity > MAX_LINE_QUANTITY) {
        throw refusals.unprocessable('quantity_limit', `At most ${MAX_LINE_QUANTITY} units per line.`, { variant_id: variantId, max: MAX_LINE_QUANTITY });
      }
      const storeId = cart.doc.store_id;
      const hot = await isHot(storeId, variantId);
      await timersRunning();
      // A sold-out flash sale turns its crowd away here, without Postgres; units taken here go back if Postgres refuses.
      const holdId = randomUUID();
      const pre = hot ? await hotStock.take(storeId, variantId, quantity, holdId) : undefined;
      if (pre?.kind === 'insufficient') throw insufficient(new InsufficientStockError(variantId, pre.available));
      const giveBack = () => (pre?.kind === 'taken' ? hotStock.giveBack(variantId, quantity, holdId) : Promise.resolve());
      const outcome = await holdTogether(`${storeId}/${variantId}`, { storeId, variantId, cartId: cart.doc.id, quantity }).catch(async (err: unknown) => {
        await giveBack();
        throw err;
      });
      if (outcome.kind !== 'held') {
        await giveBack();
        if (outcome.kind === 'insufficient') throw insufficient(new InsufficientStockError(variantId, outcome.available));
        if (outcome.kind === 'not_for_sale') throw refusals.unprocessable('product_unavailable', 'This product is no longer for sale.', { variant_id: variantId });
        throw refusals.notFound('variant in this store');
      }
      const unitPriceCents = line?.unit_price_cents ?? outcome.priceCents;
      const updated = await changeLines(redis, cart.doc.id, 'add', [{ variantId, quantity, unitPriceCents }], cartTtlMs(config, cart.doc.owner_id));
      if (!updated) return gone(cart);
      return render(updated, outcome.lines);
    },

    /** Sets a line's quantity (0 removes it); lowering returns units to stock at once. */
    async setLine(cartId: string, variantId: string, quantity: number, callerId: string | undefined) {
      const cart = await editableCart(cartId, callerId);
      const line = cart.doc.items.find((i) => i.variant_id === variantId);
      let unitPrice = line?.unit_price_cents ?? 0;
      if (quantity > 0) {
        const held = (await heldLines(db, cartId)).get(variantId)?.quantity ?? 0;
        // Raising a line (or holding an unheld one again) needs a variant that is still for sale.
        if (quantity > held || !line) {
          const variant = await variantForSale(cart.doc.store_id, variantId);
          unitPrice = line?.unit_price_cents ?? variant.price_cents;
        }
        if (!line) throw refusals.notFound('line in this cart');
      }
      await timersRunning();
      const expiresAt = new Date(Date.now() + config.RESERVATION_TTL);
      await holding(() => setQuantity(db, { storeId: cart.doc.store_id, cartId: cart.doc.id, variantId, quantity, expiresAt }, hotStock));
      return finish(cart, 'set', variantId, quantity, unitPrice);
    },
  };
}

export type CartService = ReturnType<typeof createCartService>;
