import { ApplicationFailure } from '@temporalio/common';
import { removeCartLines, releaseCartLines } from '../../commerce/cartRelease';
import { cancelCheckoutOrder, createCheckoutOrder, type CheckoutOrderRequest } from '../../commerce/checkoutOrders';
import { checkCheckoutPrices } from '../../commerce/checkoutPrices';
import { HotStock } from '../../commerce/hotStock';
import { commitCheckoutHolds, confirmCheckoutHolds, ReservationsLostError, uncommitCheckoutHolds, type CommitRequest } from '../../commerce/reservations';
import type { ActivityDeps } from '../../workers/deps';
import { type CheckoutLine, RESERVATIONS_LOST } from '../../commerce/contract';

/**
 * The checkout workflow's database steps (main task queue), as adapters over src/commerce: prices
 * (checkoutPrices.ts), holds (reservations.ts), the order (checkoutOrders.ts) and the cart document
 * (cartRelease.ts). Every step is idempotent there; here, lost holds become the workflow's non-retryable
 * RESERVATIONS_LOST. Payment steps are the payment activities on the payments task queue.
 */

/** Lost holds as the saga's typed business failure (with what each line still holds, when known). */
async function failingOnLostHolds<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof ReservationsLostError)) throw err;
    throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: err.message, nonRetryable: true, ...(err.held ? { details: [{ held: err.held }] } : {}) });
  }
}

export function createCheckoutActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const hotStock = new HotStock(redis, db, logger);

  return {
    checkCheckoutPrices: (input: { storeId: string; dropId?: string | null; items: CheckoutLine[] }) => checkCheckoutPrices(db, input),

    /** Every line still held as checked out, the holds pushed out by holdMs. */
    confirmCheckoutReservations: (input: { cartId: string; storeId: string; items: CheckoutLine[]; holdMs: number }) => confirmCheckoutHolds(db, input),

    /** The order, once per checkout key, only while the checkout's holds are held. */
    createCheckoutOrder: (input: CheckoutOrderRequest) => failingOnLostHolds(() => createCheckoutOrder(db, input)),

    /** Compensation: the order (if any) cancelled. */
    cancelCheckoutOrder: (input: { checkoutKey: string; reason: string }) => cancelCheckoutOrder(db, input),

    /** The holds sold to this checkout (and counted by its drop), or RESERVATIONS_LOST with nothing sold. */
    commitCheckoutReservations: (input: CommitRequest) => failingOnLostHolds(() => commitCheckoutHolds(db, input)),

    /** Compensation of the commit: what this checkout sold goes back to stock. */
    uncommitCheckoutReservations: (input: { storeId: string; reservationIds: string[]; dropId?: string | null; checkoutKey?: string }) =>
      failingOnLostHolds(() => uncommitCheckoutHolds(db, input, hotStock)),

    /**
     * A checkout that ran out of time gives the cart's holds back at once (they are past its promise), and their
     * lines leave the cart document as when holds expire. Run before the other compensations: from here on
     * createCheckoutOrder finds the holds gone and refuses, so no order can land after the checkout gave up.
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
