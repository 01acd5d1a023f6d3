import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import { createPaymentService } from '../payments/paymentService';
import { hasCharge, refundRemaining } from '../billing/refunds';
import { cancellationRefunds, orderTransitionError, type OrderStatus } from '../domain/orders';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { findStore } from './catalog';
import { orderWithHistory } from './orderViews';
import { makeOrderChargeAvailable } from './orderCharges';
import { type OrderForNotice, tellCustomer } from './orderNotices';
import { restockOrderItems } from './orderRestock';

/**
 * Order status changes by a store's owner (or an operator): the order row is locked FOR UPDATE, the rule
 * (src/domain/orders.ts) is checked against the locked status, then the status and an order_status_history row
 * are written together. Cancelling a paid order refunds it first (outside any transaction, see transitionOrder):
 * an order with a seller charge is "refund everything" — what partial refunds left, as one credit note "Order
 * cancelled" (src/billing/refunds.ts, one key per order so a retry never refunds twice); one without (the
 * authorization not captured yet) is voided, or refunded by the payment's key. Its items not restocked by refunds
 * go back on sale (sold -= qty) in the same transaction as the status change: either the order is cancelled and
 * restocked, or neither.
 */

export interface OrderDeps {
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
  config: Pick<Config, 'PAYOUT_DELAY_ORDER'>;
}

export interface OrderRecord {
  id: string;
  store_id: string;
  status: OrderStatus;
  payment_key: string | null;
}

/** The credit note of an order's cancellation. */
export const ORDER_CANCELLED_REASON = 'Order cancelled';

/** The refund (or void) of a cancelled order's payment was refused or failed; nothing was changed. */
export class OrderRefundError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'OrderRefundError';
  }
}

export interface TransitionRequest {
  orderId: string;
  to: OrderStatus;
  /** The caller's user id (or 'system'). */
  actor: string;
  reason?: string | null;
}

/**
 * Gives the money of an order back: what is left of its seller charge as a credit note; without a charge, a capture
 * is refunded in full and a hold still uncaptured is voided.
 */
async function returnPayment(deps: OrderDeps, order: OrderRecord, actor: string): Promise<void> {
  const source = { kind: 'order', id: order.id } as const;
  if (await hasCharge(deps.db, source)) {
    try {
      await refundRemaining(deps, source, ORDER_CANCELLED_REASON, actor === 'system' ? null : actor);
      return;
    } catch (err) {
      throw new OrderRefundError(`The order's payment could not be refunded: ${(err as Error).message}`, err);
    }
  }
  const paymentKey = order.payment_key!;
  const service = createPaymentService(deps);
  try {
    const p = await service.refreshPayment({ businessKey: paymentKey });
    if (p.status === 'refunded' || p.status === 'canceled') return;
    if (p.status === 'requires_capture' || p.status === 'requires_action' || p.status === 'pending') {
      try {
        await service.cancelPayment({ businessKey: paymentKey });
        return;
      } catch (err) {
        // The checkout captures after answering the shopper: a capture that lands between our read and the void
        // makes the void refuse. Then the money is captured, and it is refunded below instead.
        const now = await service.refreshPayment({ businessKey: paymentKey });
        if (now.status === 'canceled') return;
        if (now.status !== 'succeeded' && now.status !== 'partially_refunded') throw err;
      }
    }
    // The default refund key (`<key>:refund`): a repeated cancel replays the same refund, never a second one.
    const after = await service.refundPayment({ businessKey: paymentKey });
    if (after.status !== 'refunded') throw new Error(`payment is ${after.status} after the refund`);
  } catch (err) {
    if (err instanceof OrderRefundError) throw err;
    throw new OrderRefundError(`The order's payment could not be refunded: ${(err as Error).message}`, err);
  }
}

/** Sold stock of the order's items that refunds have not restocked goes back on sale, in the status change's transaction. */
async function restock(trx: Knex.Transaction, order: OrderRecord): Promise<void> {
  await restockOrderItems(trx, order);
}

/** The order as its transition sees it: locked, in the caller's transaction. */
type LockedOrder = OrderRecord & OrderForNotice & { cancelling_since: Date | null };

async function lockOrder(trx: Knex.Transaction, orderId: string): Promise<LockedOrder | undefined> {
  return (await trx('orders')
    .where({ id: orderId })
    .forUpdate()
    .first('id', 'store_id', 'status', 'payment_key', 'cancelling_since', 'customer_id', 'total_cents', 'currency')) as LockedOrder | undefined;
}

const illegal = (from: OrderStatus, to: OrderStatus) => {
  const error = orderTransitionError(from, to, 'merchant');
  return error ? refusals.conflict('illegal_transition', error, { from, to }) : undefined;
};

/**
 * Writes the new status and its history row (and, for a cancellation, the restock; for a delivery, the order's
 * charge made available PAYOUT_DELAY_ORDER from now) in `trx`.
 */
async function applyTransition(trx: Knex.Transaction, order: LockedOrder, req: TransitionRequest, config: OrderDeps['config']): Promise<OrderRecord> {
  if (req.to === 'cancelled') await restock(trx, order);
  if (req.to === 'delivered') await makeOrderChargeAvailable(trx, order.id, config.PAYOUT_DELAY_ORDER);
  await tellCustomer(trx, order, req.to);
  await trx('orders').where({ id: order.id }).update({ status: req.to, cancelling_since: null, updated_at: trx.fn.now() });
  await trx('order_status_history').insert({ order_id: order.id, from_status: order.status, to_status: req.to, actor: req.actor, reason: req.reason ?? null });
  return { ...order, status: req.to };
}

/**
 * Moves an order to `to`. Refuses not_found (no such order, or `canSee` says no) and `illegal_transition`
 * (with from and to); throws OrderRefundError. Nothing changes on any of them.
 *
 * No transaction waits on anything but its own statements: `canSee` runs before (on the order's store, which
 * never changes), and a cancellation that gives money back takes three steps — mark the order `cancelling`
 * (locked, checked), refund with the provider outside any transaction (idempotent by the payment's key), then
 * cancel and restock (locked, checked again). While it is marked, the order cannot move on, so no refund goes
 * out for an order that ships meanwhile; a retried cancel picks up a crashed one.
 */
export async function transitionOrder(deps: OrderDeps, req: TransitionRequest, canSee: (order: OrderRecord) => Promise<boolean> | boolean): Promise<OrderRecord> {
  const seen = (await deps.db('orders').where({ id: req.orderId }).first('id', 'store_id', 'status', 'payment_key')) as OrderRecord | undefined;
  if (!seen || !(await canSee(seen))) throw refusals.notFound('order');

  const marked = await deps.db.transaction(async (trx) => {
    const order = (await lockOrder(trx, req.orderId))!;
    const refusal = illegal(order.status, req.to);
    if (refusal) throw refusal;
    if (order.cancelling_since && req.to !== 'cancelled') {
      throw refusals.conflict('order_cancelling', 'The order is being cancelled; it cannot change status now.', { from: order.status, to: req.to });
    }
    const refund = req.to === 'cancelled' && cancellationRefunds(order.status) && order.payment_key !== null;
    if (!refund) return { order: await applyTransition(trx, order, req, deps.config), refund: false };
    if (!order.cancelling_since) await trx('orders').where({ id: order.id }).update({ cancelling_since: trx.fn.now() });
    return { order, refund: true };
  });
  if (!marked.refund) return marked.order;

  try {
    // Money first: if the refund fails the order stays as it was, and cancelling again retries it.
    await returnPayment(deps, marked.order, req.actor);
  } catch (err) {
    await deps.db('orders').where({ id: req.orderId }).update({ cancelling_since: null });
    throw err;
  }
  return deps.db.transaction(async (trx) => {
    const order = (await lockOrder(trx, req.orderId))!;
    // A concurrent cancel finished first (its refund was this one, by the same key): already cancelled.
    const refusal = illegal(order.status, req.to);
    if (refusal) throw refusal;
    return applyTransition(trx, order, req, deps.config);
  });
}

/**
 * A status change by the store's owner or an operator (anyone else: not_found, exactly as for an unknown id),
 * answered with the order and its status history.
 */
export async function changeOrderStatus(deps: OrderDeps, caller: Principal, req: { orderId: string; to: OrderStatus; reason?: string | null }) {
  await transitionOrder(deps, { orderId: req.orderId, to: req.to, actor: caller.id, reason: req.reason ?? null }, async (order) => {
    if (caller.role === 'operator') return true;
    const store = await findStore(deps.db, order.store_id);
    return store?.owner_id === caller.id;
  });
  return orderWithHistory(deps.db, req.orderId);
}
