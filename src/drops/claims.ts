import { DomainError, refusals } from '../domain/errors';
import { forgetCart } from '../commerce/cartDocuments';
import { checkoutInput } from '../commerce/checkoutInput';
import type { CheckoutRunner } from '../commerce/checkouts';
import type { CheckoutAddress, CheckoutResult } from '../commerce/contract';
import { openHeldCart } from '../commerce/heldCart';
import { HotStock } from '../commerce/hotStock';
import { heldLines, InsufficientStockError, releaseCart } from '../commerce/reservations';
import { dropClaimedSignal } from './contract';
import type { DropsDeps } from './deps';
import { claimCheckoutKey, findEntry, markClaimed, type EntryRow } from './lottery';
import { DropRateLimiter } from './rateLimit';
import { dropOfMode, loadDrop, type DropRow } from './repository';
import { signalDrop } from './signals';

/**
 * A lottery winner's claim (POST /v1/drops/{id}/claim): the unit held in a cart named after the entry, then one
 * order through the checkout saga (`checkout:<claimCheckoutKey>`, run by the caller's runner) with the card
 * saved at entry unless another is given. Every attempt of a claim holds the same one unit; an attempt that
 * sells nothing gives it back, and the next attempt is a new checkout. Lock order as everywhere: inventory
 * (the hold), then the drop row, then the entry.
 */

export interface ClaimRequest {
  dropId: string;
  userId: string;
  ip: string | undefined;
  shippingAddress: CheckoutAddress;
  /** Default: the card saved with the entry. */
  paymentMethod?: string;
}

const claimExpired = () =>
  new DomainError('gone', 'claim_expired', 'Your claim window has passed; the unit went to the next entrant on the waitlist.', {}, 'Claim window over');

/** Rolls back a superseded attempt's release (see nextAttempt). */
class StaleAttempt extends Error {}

/** A claim that may not start: the entry as found under the drop lock; `ownHold`: the hold rolled back was this request's. */
class ClaimRefused extends Error {
  constructor(
    readonly entry: EntryRow & { window_open: boolean },
    readonly ownHold: boolean,
  ) {
    super('claim refused');
  }
}

/** The refusal of a claim of an entry that cannot start one: gone after its window, conflict when it is no winner. */
function refuseClaim(e: EntryRow, windowOpen = e.claim_expires_at !== null && e.claim_expires_at.getTime() > Date.now()): DomainError | undefined {
  if (e.status === 'expired' || (e.status === 'won' && !windowOpen)) return claimExpired();
  if (e.status !== 'won') return refusals.conflict('not_a_winner', e.status === 'waitlisted' ? 'You are on the waitlist; you can claim only when promoted.' : `Your entry is ${e.status}.`);
  return undefined;
}

export function createDropClaims(deps: DropsDeps, runs: Pick<CheckoutRunner, 'run'>) {
  const { db, config, logger } = deps;
  const limiter = new DropRateLimiter(deps.redis, config);
  const hotStock = new HotStock(deps.redis, db, logger);

  /**
   * Wakes the drop's workflow after a claim attempt when it changes what the workflow waits for: the last unit
   * was sold (the drop ends and the rest are told at once), or the attempt ended after its window, whose expiry
   * it had held back. Other claims are read at the next window's end, which keeps signals far below history
   * limits however large the drop.
   */
  async function announceClaim(dropId: string, e: EntryRow): Promise<void> {
    const d = await loadDrop(db, dropId);
    if (!d || (d.sold < d.quantity && e.claim_expires_at!.getTime() > Date.now())) return;
    await signalDrop(deps, dropId, dropClaimedSignal, 'drop workflow not told about a claim; it sees it at the next window end');
  }

  async function claimed(d: DropRow, e: EntryRow, orderId: string): Promise<CheckoutResult> {
    await markClaimed(db, e.id, orderId);
    await announceClaim(d.id, e);
    return { status: 'confirmed', orderId };
  }

  /**
   * Holds the claim's one unit in the entry's cart, exclusive with settleClaims: the same transaction that takes
   * the unit share-locks the drop row (settleClaims locks it for update) and re-reads the entry, and commits the
   * hold before the lock goes. So a window's end either sees this hold (and lets the claim finish) or expired the
   * entry first (ClaimRefused, nothing held). The entry is claimable while it is won and its window is open, or
   * while a claim of it (a double click under another key) already holds its unit: every hold was taken in the
   * window. One connection throughout: a claim never waits for the pool while it holds one.
   */
  async function holdClaimUnit(d: DropRow, e: EntryRow, ownerId: string): Promise<EntryRow> {
    try {
      return await db.transaction(async (trx) => {
        const held = () => heldLines(trx, e.id).then((lines) => lines.has(d.variant_id));
        let heldByAnother = await held();
        try {
          const request = { cartId: e.id, storeId: d.store_id, variantId: d.variant_id, ownerId, quantity: 1, unitPriceCents: d.price_cents, dropId: d.id };
          await openHeldCart({ ...deps, db: trx, hotStock: new HotStock(deps.redis, trx, logger) }, request);
        } catch (err) {
          // The double click took the last unit in stock for this entry while this one waited for it.
          if (!(err instanceof InsufficientStockError) || !(await held())) throw err;
          heldByAnother = true;
        }
        await trx('drops').where({ id: d.id }).forShare().first('id');
        const now = (await trx('drop_entries').where({ id: e.id }).first('*', trx.raw('claim_expires_at > now() AS window_open'))) as EntryRow & { window_open: boolean };
        if (now.status !== 'won' || !(now.window_open || heldByAnother)) throw new ClaimRefused(now, !heldByAnother);
        return now;
      });
    } catch (err) {
      if (err instanceof ClaimRefused && err.ownHold) {
        // Rolled back: what this request took in the hot-stock counter and its cart document go too.
        if (await hotStock.isHot(d.store_id, d.variant_id)) await hotStock.giveBack(d.variant_id, 1, e.id);
        await forgetCart(deps.redis, e.id);
      }
      throw err;
    }
  }

  /**
   * After an attempt that sold nothing: the unit goes back (a held unit would keep the window from expiring,
   * see settleClaims) and the next attempt is a new checkout (another card may be tried within the window).
   * Only while the entry is still at this attempt, in one transaction: a stale attempt (a double click's second
   * answer) never releases the unit a newer attempt holds. Release before the entry row (the lock order of
   * holdClaimUnit and settleClaims); the hot-stock counter follows once committed.
   */
  async function nextAttempt(d: DropRow, e: EntryRow): Promise<void> {
    const released = await db
      .transaction(async (trx) => {
        const r = await releaseCart(trx, e.id);
        const moved = await trx('drop_entries').where({ id: e.id, claim_attempt: e.claim_attempt }).update({ claim_attempt: e.claim_attempt + 1, updated_at: trx.fn.now() });
        if (!moved) throw new StaleAttempt();
        return r.released;
      })
      .catch((err: unknown) => {
        if (err instanceof StaleAttempt) return 0;
        throw err;
      });
    if (released > 0 && (await hotStock.isHot(d.store_id, d.variant_id))) await hotStock.adjust(d.variant_id, released);
  }

  return {
    /**
     * The claim's checkout outcome (confirmed: the same order for every retry); refusals before any checkout:
     * not_found, `draw_pending`, `not_a_winner`, `sold_out`, `not_a_lottery`, gone `claim_expired`.
     */
    async claim(r: ClaimRequest): Promise<CheckoutResult> {
      await limiter.consume('claim', { userId: r.userId, ip: r.ip });
      const d = await dropOfMode(db, r.dropId, 'lottery');
      const e = await findEntry(db, d.id, r.userId);
      if (!e) throw refusals.notFound('entry');
      if (e.order_id) return { status: 'confirmed', orderId: e.order_id };
      if (!d.drawn_at) throw refusals.conflict('draw_pending', 'The draw has not happened yet.');
      const refusal = refuseClaim(e);
      // A claim made in its window holds the unit until its checkout ends: one whose checkout could not run then
      // (Temporal or the workers were down, 503) is retried after the window and still goes on (holdClaimUnit).
      if (refusal && !(e.status === 'won' && (await heldLines(db, e.id)).has(d.variant_id))) throw refusal;

      // A claim whose request died after the checkout made the order: that order is the answer.
      const made = (await db('orders').where({ checkout_key: claimCheckoutKey(d.id, e.id, e.claim_attempt) }).whereNot({ status: 'cancelled' }).first('id')) as { id: string } | undefined;
      if (made) return claimed(d, e, made.id);

      let attempt: EntryRow;
      try {
        // The entry id names the cart: every attempt of this claim holds the same one unit. The attempt is the
        // one read under the drop lock (a double click's failed attempt may have moved it on meanwhile).
        attempt = await holdClaimUnit(d, e, r.userId);
      } catch (err) {
        if (err instanceof InsufficientStockError) throw refusals.conflict('sold_out', 'No unit of this drop is left in stock.');
        if (!(err instanceof ClaimRefused)) throw err;
        const now = err.entry;
        if (now.order_id) return { status: 'confirmed', orderId: now.order_id };
        throw refuseClaim(now, now.window_open) ?? claimExpired();
      }
      const input = checkoutInput(config, {
        checkoutKey: claimCheckoutKey(d.id, e.id, attempt.claim_attempt),
        cartId: e.id,
        storeId: d.store_id,
        customerId: r.userId,
        items: [{ variant_id: d.variant_id, quantity: 1, unit_price_cents: d.price_cents }],
        currency: d.currency,
        paymentMethod: r.paymentMethod ?? e.payment_method,
        shippingAddress: r.shippingAddress,
        dropId: d.id,
      });
      const result = await runs.run(input, `Claim of drop ${d.id} by entry ${e.id} (attempt ${attempt.claim_attempt})`);
      if (result.status === 'confirmed') return claimed(d, e, result.orderId);
      await nextAttempt(d, attempt);
      await announceClaim(d.id, attempt);
      return result;
    },
  };
}
