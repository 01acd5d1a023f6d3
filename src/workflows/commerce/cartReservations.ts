import { condition, defineQuery, defineSignal, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { type CartActivity, type CartClosed, type CartReservationsInput, cartActivitySignal, cartClosedSignal, cartReservationsStateQuery } from '../../commerce/contract';

/**
 * The reservation TTL of one cart (`cart:<id>`): its stock holds last `ttlMs` from the cart's LAST activity.
 * Every cart change signals `cartActivity` (the API starts the workflow with signalWithStart before it takes
 * any stock, so a hold never exists without its timer), which restarts the countdown. When the countdown runs
 * out the expired holds go back to stock and the workflow completes. `cartClosed` (a checkout sold the cart)
 * ends it without releasing anything, but only when nothing is left to hold: a line added while the checkout
 * ran (not among what it sold, or still held in Postgres) keeps the countdown going, so its hold still expires.
 */

const { releaseCartReservations } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

/** Whether `sold` covers every line of `items` (same variant, at least the quantity). */
function covers(sold: CartClosed['sold'], items: CartActivity['items']): boolean {
  const bought = new Map(sold.map((l) => [l.variant_id, l.quantity]));
  return items.every((i) => (bought.get(i.variant_id) ?? 0) >= i.quantity);
}

/** A little slack after a hold's expires_at, so the release never runs a hair before Postgres' clock says so. */
const SLACK_MS = 50;

export async function cartReservations(input: CartReservationsInput): Promise<{ outcome: 'expired' | 'closed'; released: number }> {
  let expiresAt = Date.now() + input.ttlMs;
  let items: CartActivity['items'] = [];
  let activities = 0;
  let closed = false;
  /** A checkout asked to close the cart (and what it sold); checked against what is left before ending. */
  let closing: CartClosed | { sold: null } | null = null;
  let released = 0;

  const showDetails = () =>
    setCurrentDetails(
      [
        `**${closed ? 'closed' : 'holding'}** — cart ${input.cartId} at store ${input.storeSlug}`,
        `holds expire at: ${new Date(expiresAt).toISOString()} (TTL ${Math.round(input.ttlMs / 1000)} s from the last activity)`,
        `items: ${items.length ? items.map((i) => `${i.quantity} × ${i.variant_id}`).join(', ') : 'none'}`,
        `activities: ${activities}; released so far: ${released}`,
      ].join('\n'),
    );

  setHandler(cartActivitySignal, (a) => {
    activities++;
    items = a.items;
    expiresAt = Date.now() + input.ttlMs;
    showDetails();
  });
  setHandler(cartClosedSignal, (c) => {
    closing = c ?? { sold: null };
  });
  setHandler(cartReservationsStateQuery, () => ({ expiresAt: new Date(expiresAt).toISOString(), items, activities, closed }));
  showDetails();

  for (;;) {
    // Wait until the (possibly moved) expiry, or a checkout closes the cart.
    while (!closing && Date.now() < expiresAt) {
      const seen = activities;
      await condition(() => closing !== null || activities !== seen, Math.max(1, expiresAt - Date.now()));
    }
    const seen = activities;
    if (closing) {
      const { sold } = closing;
      closing = null;
      // The cart's last known lines, beyond what the checkout sold, may be held (or about to be: a change
      // signals before it takes stock), so they keep their countdown.
      if (sold !== null && !covers(sold, items)) continue;
      const left = await releaseCartReservations({ cartId: input.cartId });
      released += left.released;
      if (left.msUntilNextExpiry === null && activities === seen) {
        closed = true;
        showDetails();
        return { outcome: 'closed', released };
      }
      showDetails();
      continue;
    }
    const result = await releaseCartReservations({ cartId: input.cartId });
    released += result.released;
    showDetails();
    // Activity during the release extended its holds (only expired ones were released): keep counting.
    if (activities !== seen) continue;
    // Holds that are not yet due (clocks differ by a hair, or a change landed just now): wait for them.
    if (result.msUntilNextExpiry !== null) {
      expiresAt = Date.now() + result.msUntilNextExpiry + SLACK_MS;
      continue;
    }
    return { outcome: 'expired', released };
  }
}
