import type { Db } from '../infra/db';
import { checkCheckoutPrices } from './checkoutPrices';
import type { CheckoutConfirmation, CheckoutLine } from './contract';
import { confirmCheckoutHolds } from './reservations';

/**
 * A checkout's first step: the prices as checked out (a changed one stops it before anything is held longer or
 * charged), then every line still held as checked out, its hold pushed out by holdMs so it outlasts the payment.
 * Both parts are idempotent (a read, and an expiry only ever pushed out), so the step may run twice.
 */
export async function confirmCheckout(db: Db, input: { cartId: string; storeId: string; dropId?: string | null; items: CheckoutLine[]; holdMs: number }): Promise<CheckoutConfirmation> {
  const prices = await checkCheckoutPrices(db, input);
  if (prices.changed.length) return { status: 'price_changed', items: prices.changed };
  const held = await confirmCheckoutHolds(db, input);
  return held.ok ? { status: 'held', reservationIds: held.reservationIds } : { status: 'insufficient_stock', items: held.missing };
}
