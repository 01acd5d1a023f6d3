import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { Problem } from '../http/problem';
import { text } from '../http/text';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { managedStore } from '../../commerce/stores';
import { changeOrderStatus, OrderRefundError } from '../../commerce/orders';
import { listStoreOrders } from '../../commerce/orderViews';
import { MERCHANT_TARGET_STATUSES, ORDER_STATUSES } from '../../domain/orders';
import { OrderSummarySchema, StatusHistoryEntrySchema } from './orderSchemas';

/**
 * Order management by the store's owner (and operators): status changes along the allowed path
 * (src/domain/orders.ts) and the store's order list. Anyone else gets 404, exactly as for an unknown id.
 * Cancelling twice is a 409 `illegal_transition` (cancelled is final), not an idempotent 200: the first
 * cancel's refund is keyed by the payment, so a client retrying a lost answer sees 409 with from=cancelled
 * and can read the order to confirm it.
 */

const StatusBody = z
  .strictObject({
    status: z.enum(MERCHANT_TARGET_STATUSES),
    reason: text(1, 500).optional(),
  })
  .openapi('OrderStatusRequest');

const OrderStatusResultSchema = OrderSummarySchema.extend({ status_history: z.array(StatusHistoryEntrySchema) }).openapi('OrderWithHistory');

const OrderListSchema = z.object({ data: z.array(OrderSummarySchema), next_cursor: z.string().nullable() }).openapi('OrderList');

const ListQuery = z.object({ status: z.enum(ORDER_STATUSES).optional(), ...pageQuery });

export function registerOrderRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'post',
      path: '/v1/orders/{order_id}/status',
      operationId: 'changeOrderStatus',
      summary: 'Move an order along confirmed → processing → shipped → delivered, or cancel it (refund + restock)',
      tags: ['orders'],
      auth: 'user',
      params: uuidParam('order_id'),
      body: StatusBody,
      responses: {
        200: { description: 'The order with its status history', schema: OrderStatusResultSchema },
        404: { description: 'No such order, or not your store’s' },
        409: { description: '`illegal_transition` with `from` and `to` (skipping a step, cancelling a shipped order, cancelling twice)' },
        502: { description: '`refund_failed`: the payment could not be refunded; the order is unchanged' },
      },
    },
    async ({ params, body, principal }) => {
      try {
        return { status: 200, body: await changeOrderStatus(deps, requirePrincipal(principal), { orderId: params.order_id, to: body.status, reason: body.reason }) };
      } catch (err) {
        if (err instanceof OrderRefundError) {
          throw new Problem(502, 'refund_failed', 'Refund failed', 'The payment could not be refunded, so the order was not cancelled; retry shortly.');
        }
        throw err;
      }
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}/orders',
      operationId: 'listStoreOrders',
      summary: 'The store’s orders, newest first (owner or operator), optionally by status',
      tags: ['orders'],
      auth: 'user',
      params: uuidParam('store_id'),
      query: ListQuery,
      responses: { 200: { description: 'A page of orders', schema: OrderListSchema }, 404: { description: 'No such store, or not yours' } },
    },
    async ({ params, query, principal }) => {
      const store = await managedStore(db, params.store_id, principal);
      return { status: 200, body: await listStoreOrders(db, store.id, query) };
    },
  );
}
