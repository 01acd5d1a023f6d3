/**
 * Order lifecycle (API.md, "Carts, checkout, orders"). Pure: no I/O.
 *
 *   pending ──► confirmed ──► processing ──► shipped ──► delivered
 *      │            │              │
 *      └────────────┴──────────────┴──► cancelled   (refund + restock)
 *
 * `pending` belongs to the checkout workflow (it confirms or cancels it); merchants move orders on from
 * `confirmed`. Shipped and delivered orders are never cancelled (returns are a different process), and
 * `cancelled` / `delivered` are final. A transition to the current status is not a transition: it is refused.
 */
export const ORDER_STATUSES = ['pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The statuses a store owner (or operator) may ask for through the API. */
export const MERCHANT_TARGET_STATUSES = ['processing', 'shipped', 'delivered', 'cancelled'] as const satisfies readonly OrderStatus[];
export type MerchantTargetStatus = (typeof MERCHANT_TARGET_STATUSES)[number];

export type OrderActor = 'merchant' | 'system';

const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['confirmed', 'cancelled'],
  confirmed: ['processing', 'cancelled'],
  processing: ['shipped', 'cancelled'],
  shipped: ['delivered'],
  delivered: [],
  cancelled: [],
};

export function isOrderStatus(s: string): s is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(s);
}

export function allowedOrderTransitions(from: OrderStatus, by: OrderActor = 'merchant'): readonly OrderStatus[] {
  // A pending order is mid-checkout: only its workflow may settle it.
  if (by === 'merchant' && from === 'pending') return [];
  return TRANSITIONS[from];
}

export function isFinalOrderStatus(s: OrderStatus): boolean {
  return TRANSITIONS[s].length === 0;
}

/** Cancelling from here gives money back (the payment was captured at checkout) and returns stock. */
export function cancellationRefunds(from: OrderStatus): boolean {
  return from === 'confirmed' || from === 'processing';
}

/** null when `from → to` is allowed for `by`; otherwise why not, in words fit for an API answer. */
export function orderTransitionError(from: string, to: string, by: OrderActor = 'merchant'): string | null {
  if (!isOrderStatus(from)) return `Unknown order status '${from}'.`;
  if (!isOrderStatus(to)) return `Unknown order status '${to}'.`;
  if (allowedOrderTransitions(from, by).includes(to)) return null;
  if (from === to) return `The order is already ${from}.`;
  if (from === 'pending' && by === 'merchant') return 'The order is still being checked out; it can be changed once it is confirmed.';
  if (to === 'cancelled' && (from === 'shipped' || from === 'delivered')) return `A ${from} order can no longer be cancelled.`;
  if (isFinalOrderStatus(from)) return `A ${from} order is final.`;
  const next = allowedOrderTransitions(from, by);
  return `An order cannot go from ${from} to ${to}; from ${from} it can go to ${next.join(' or ')}.`;
}
