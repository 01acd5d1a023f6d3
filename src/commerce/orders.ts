import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import { createPaymentService } from '../payments/paymentService';
import { cancellationRefunds, orderTransitionError, type OrderStatus } from '../domain/orders';

/**
 * Order status changes by a store's owner (or an operator). One transaction per change: the order row is
 * locked FOR UPDATE, the rule (src/domain/orders.ts) is checked against the locked status, then the status
 * and an order_status_history row are written together. Cancelling a paid order refunds it first (by the
 * payment's business key, so a retry after a crash never refunds twice) and restocks its items (sold -= qty)
 * in the same transaction as the status change: either the order is cancelled and restocked, or neither.
 */

export interface OrderDeps {
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
}

export interface OrderRecord {
  id: string;
  store_id: string;
  status: OrderStatus;
  payment_key: string | null;
}

export class IllegalOrderTransitionError extends Error {
  constructor(
    readonly from: string,
    readonly to: string,
    message: string,
  ) {
    super(message);
    this.name = 'IllegalOrderTransitionError';
  }
}

export class OrderNotFoundError extends Error {
  constructor() {
    super('No such order.');
    this.name = 'OrderNotFoundError';
  }
}

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

/** Gives the money of an order back: a capture is refunded in full, a hold still uncaptured is voided. */
async function returnPayment(deps: OrderDeps, paymentKey: string): Promise<void> {
  const service = createPaymentService(deps);
  try {
    const p = await service.refreshPayment({ businessKey: paymentKey });
    if (p.status === 'refunded' || p.status === 'canceled') return;
    if (p.status === 'requires_capture' || p.status === 'requires_action' || p.status === 'pending') {
      await service.cancelPayment({ businessKey: paymentKey });
      return;
    }
    // The default refund key (`<key>:refund`): a repeated cancel replays the same refund, never a second one.
    const after = await service.refundPayment({ businessKey: paymentKey });
    if (after.status !== 'refunded') throw new Error(`payment is ${after.status} after the refund`);
  } catch (err) {
    if (err instanceof OrderRefundError) throw err;
    throw new OrderRefundError(`The order's payment could not be refunded: ${(err as Error).message}`, err);
  }
}

/** Sold stock of the order's items goes back on sale (inventory rows locked in a fixed order). */
async function restock(trx: Knex.Transaction, order: OrderRecord): Promise<void> {
  const items = (await trx('order_items').where({ order_id: order.id }).select('variant_id', 'quantity')) as Array<{ variant_id: string; quantity: number }>;
  const perVariant = new Map<string, number>();
  for (const i of items) perVariant.set(i.variant_id, (perVariant.get(i.variant_id) ?? 0) + i.quantity);
  const ids = [...perVariant.keys()].sort();
  if (!ids.length) return;
  await trx('inventory').whereIn('variant_id', ids).andWhere({ store_id: order.store_id }).orderBy('variant_id').forUpdate().select('variant_id');
  for (const id of ids) {
    // GREATEST: never below zero, even if the owner's stock edits already absorbed part of it.
    await trx('inventory')
      .where({ variant_id: id, store_id: order.store_id })
      .update({ sold: trx.raw('GREATEST(sold - ?, 0)', [perVariant.get(id)!]), updated_at: trx.fn.now() });
  }
}

/**
 * Moves an order to `to`. Throws OrderNotFoundError, IllegalOrderTransitionError (nothing changed) or
 * OrderRefundError (nothing changed). `canSee` runs on the locked row, so authorization and the change
 * see the same order.
 */
export async function transitionOrder(deps: OrderDeps, req: TransitionRequest, canSee: (order: OrderRecord) => Promise<boolean> | boolean): Promise<OrderRecord> {
  return deps.db.transaction(async (trx) => {
    const order = (await trx('orders').where({ id: req.orderId }).forUpdate().first('id', 'store_id', 'status', 'payment_key')) as OrderRecord | undefined;
    if (!order || !(await canSee(order))) throw new OrderNotFoundError();
    const error = orderTransitionError(order.status, req.to, 'merchant');
    if (error) throw new IllegalOrderTransitionError(order.status, req.to, error);

    if (req.to === 'cancelled') {
      // Money first: if the refund fails the order stays as it was, and cancelling again retries it.
      if (cancellationRefunds(order.status) && order.payment_key) await returnPayment(deps, order.payment_key);
      await restock(trx, order);
    }
    await trx('orders').where({ id: order.id }).update({ status: req.to, updated_at: trx.fn.now() });
    await trx('order_status_history').insert({ order_id: order.id, from_status: order.status, to_status: req.to, actor: req.actor, reason: req.reason ?? null });
    return { ...order, status: req.to };
  });
}
