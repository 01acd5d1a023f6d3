import { condition, defineQuery, defineSignal, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * The reservation TTL of one cart (`cart:<id>`): its stock holds last `ttlMs` from the cart's LAST activity.
 * Every cart change signals `cartActivity` (the API starts the workflow with signalWithStart before it takes
 * any stock, so a hold never exists without its timer), which restarts the countdown. When the countdown runs
 * out the expired holds go back to stock and the workflow completes; `cartClosed` (checkout) ends it without
 * releasing anything.
 */

export interface CartReservationsInput {
  cartId: string;
  storeId: string;
  storeSlug: string;
  customerId: string | null;
  /** RESERVATION_TTL in milliseconds. */
  ttlMs: number;
}

export interface CartActivity {
  /** The cart's lines after the change, for the Web UI. */
  items: Array<{ variant_id: string; quantity: number }>;
}

export interface CartReservationsState {
  expiresAt: string;
  items: CartActivity['items'];
  activities: number;
  closed: boolean;
}

export const cartActivitySignal = defineSignal<[CartActivity]>('cartActivity');
export const cartClosedSignal = defineSignal<[]>('cartClosed');
export const cartReservationsStateQuery = defineQuery<CartReservationsState>('state');

export const cartWorkflowId = (cartId: string) => `cart:${cartId}`;

const { releaseCartReservations } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

/** A little slack after a hold's expires_at, so the release never runs a hair before Postgres' clock says so. */
const SLACK_MS = 50;

export async function cartReservations(input: CartReservationsInput): Promise<{ outcome: 'expired' | 'closed'; released: number }> {
  let expiresAt = Date.now() + input.ttlMs;
  let items: CartActivity['items'] = [];
  let activities = 0;
  let closed = false;
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
  setHandler(cartClosedSignal, () => {
    closed = true;
    showDetails();
  });
  setHandler(cartReservationsStateQuery, () => ({ expiresAt: new Date(expiresAt).toISOString(), items, activities, closed }));
  showDetails();

  for (;;) {
    // Wait until the (possibly moved) expiry, or the cart closes.
    while (!closed && Date.now() < expiresAt) {
      const seen = activities;
      await condition(() => closed || activities !== seen, Math.max(1, expiresAt - Date.now()));
    }
    if (closed) return { outcome: 'closed', released };
    const seen = activities;
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
