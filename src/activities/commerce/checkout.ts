import { ApplicationFailure } from '@temporalio/common';
import { removeCartLines, releaseCartLines } from '../../commerce/cartRelease';
import { cancelPlacedOrder, HoldsRanOutError, placeCheckoutOrder, type CheckoutOrderRequest } from '../../commerce/checkoutOrders';
import { confirmCheckout } from '../../commerce/checkoutConfirmation';
import { HotStock } from '../../commerce/hotStock';
import { recordOrderCharge, type OrderChargeResult } from '../../commerce/orderCharges';
import { storeTaxRate } from '../../commerce/orderUsage';
import { ReservationsLostError } from '../../commerce/reservations';
import type { ActivityDeps } from '../../workers/deps';
import { type CheckoutConfirmation, type CheckoutLine, HOLDS_RAN_OUT, RESERVATIONS_LOST } from '../../commerce/contract';

/**
 * The checkout workflow's database and Redis steps, run as local activities by the workflow's worker, as
 * adapters over src/commerce: prices and holds (checkoutPrices.ts, reservations.ts), the order and its sale
 * (checkoutOrders.ts), the cart document (cartRelease.ts) and the order's charge after its capture (orderCharges.ts). Every step is idempotent there (a local activity
 * may run again after a crash); here, lost holds become the workflow's non-retryable RESERVATIONS_LOST. Payment
 * steps are the payment activities on the payments task queue.
 */

/** Lost or run-out holds as the saga's typed business failures (with what each line still holds, when known). */
async function failingOnLostHolds<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof HoldsRanOutError) throw ApplicationFailure.create({ type: HOLDS_RAN_OUT, message: err.message, nonRetryable: true });
    if (!(err instanceof ReservationsLostError)) throw err;
    throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: err.message, nonRetryable: true, ...(err.held ? { details: [{ held: err.held }] } : {}) });
  }
}

export function createCheckoutActivities(deps: ActivityDeps) {
  const { db, redis, logger, config } = deps;
  const hotStock = new HotStock(redis, db, logger);

  return {
    /**
     * Prices as checked out, then every line still held as checked out, the holds pushed out by holdMs; and the
     * store owner's tax rate, which the checkout's amount is computed with from here on.
     */
    async confirmCheckout(input: { cartId: string; storeId: string; dropId?: string | null; items: CheckoutLine[]; holdMs: number }): Promise<CheckoutConfirmation> {
      const held = await confirmCheckout(db, input);
      return held.status === 'held' ? { ...held, taxRateBps: await storeTaxRate(db, config.TAX_RATES_BPS, input.storeId) } : held;
    },

    /** The order, once per checkout key, its usage event and the holds sold to it, in one transaction (or nothing, RESERVATIONS_LOST). */
    placeCheckoutOrder: (input: CheckoutOrderRequest) => failingOnLostHolds(() => placeCheckoutOrder(db, input, config)),

    /** After the capture: the order's ledger capture line and its seller charge with the receipt, once per order. */
    async recordOrderCharge(input: { orderId: string }): Promise<OrderChargeResult> {
      const result = await recordOrderCharge(db, input.orderId, config);
      if (result.status !== 'recorded') logger.warn({ orderId: input.orderId, result: result.status }, 'no charge recorded for the order after its capture');
      return result;
    },

    /** Compensation of the placed order: cancelled and its stock given back (unless its merchant cancelled it first). */
    cancelPlacedOrder: (input: { checkoutKey: string; storeId: string; reservationIds: string[]; dropId?: string | null; reason: string }) =>
      failingOnLostHolds(() => cancelPlacedOrder(db, hotStock, input)),

    /**
     * A checkout that ran out of time gives the cart's holds back at once (they are past its promise), and their
     * lines leave the cart document as when holds expire. Run before the other compensations: from here on
     * placeCheckoutOrder finds the holds gone and rolls back, so no order can land after the checkout gave up.
     */
    async releaseCheckoutHolds(input: { cartId: string }): Promise<{ released: number }> {
      const result = await releaseCartLines({ db, redis, logger, hotStock }, input.cartId, { expired: false, why: 'its checkout expired' });
      return { released: result.released };
    },

    /** The checked-out lines leave the cart document (the document may be gone already). */
    async emptyCheckoutCart(input: { cartId: string; variantIds: string[] }): Promise<void> {
      try {
        await removeCartLines(redis, input.cartId, input.variantIds);
      } catch (err) {
        logger.warn({ err, cartId: input.cartId }, 'cart document not emptied after checkout');
        throw err;
      }
    },
  };
}
