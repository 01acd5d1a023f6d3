import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import { text } from '../http/text';
import type { AppDeps } from '../deps';
import { findStore } from '../../commerce/catalog';
import { IllegalOrderTransitionError, OrderNotFoundError, OrderRefundError, transitionOrder } from '../../commerce/orders';
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

interface SummaryRow {
  id: string;
  store_id: string;
  customer_id: string | null;
  status: string;
  currency: string;
  subtotal_cents: string | number;
  total_cents: string | number;
  created_at: Date;
  updated_at: Date;
}
const SUMMARY_COLUMNS = ['id', 'store_id', 'customer_id', 'status', 'currency', 'subtotal_cents', 'total_cents', 'created_at', 'updated_at'];

const summaryJson = (o: SummaryRow) => ({
  id: o.id,
  store_id: o.store_id,
  customer_id: o.customer_id,
  status: o.status,
  currency: o.currency,
  subtotal_cents: Number(o.subtotal_cents),
  total_cents: Number(o.total_cents),
  created_at: o.created_at.toISOString(),
  updated_at: o.updated_at.toISOString(),
});

const invalidCursor = () => problems.validation([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!z.uuid().safeParse(id).success) throw invalidCursor();
  return id;
}

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
      const p = principal!;
      try {
        await transitionOrder(deps, { orderId: params.order_id, to: body.status, actor: p.id, reason: body.reason ?? null }, async (order) => {
          if (p.role === 'operator') return true;
          const store = await findStore(db, order.store_id);
          return store?.owner_id === p.id;
        });
      } catch (err) {
        if (err instanceof OrderNotFoundError) throw problems.notFound('order');
        if (err instanceof IllegalOrderTransitionError) throw problems.conflict('illegal_transition', err.message, { from: err.from, to: err.to });
        if (err instanceof OrderRefundError) {
          throw new Problem(502, 'refund_failed', 'Refund failed', 'The payment could not be refunded, so the order was not cancelled; retry shortly.');
        }
        throw err;
      }
      const order = (await db('orders').where({ id: params.order_id }).first(SUMMARY_COLUMNS)) as SummaryRow;
      const history = (await db('order_status_history').where({ order_id: params.order_id }).orderBy('id').select('from_status', 'to_status', 'actor', 'reason', 'created_at')) as Array<{
        from_status: string | null;
        to_status: string;
        actor: string;
        reason: string | null;
        created_at: Date;
      }>;
      return {
        status: 200,
        body: {
          ...summaryJson(order),
          status_history: history.map((h) => ({ from_status: h.from_status, to_status: h.to_status, actor: h.actor, reason: h.reason, at: h.created_at.toISOString() })),
        },
      };
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
      const store = await findStore(db, params.store_id);
      if (!store || (principal!.role !== 'operator' && store.owner_id !== principal!.id)) throw problems.notFound('store');
      const q = db('orders as o').where('o.store_id', store.id).select(SUMMARY_COLUMNS.map((c) => `o.${c}`));
      if (query.status) q.where('o.status', query.status);
      if (query.cursor) {
        // created_at as text keeps its microseconds (a JS Date would drop them and skip or repeat rows).
        const after = (await db('orders').where({ id: decodeCursor(query.cursor), store_id: store.id }).first(db.raw('created_at::text AS at'), 'id')) as
          | { at: string; id: string }
          | undefined;
        if (!after) throw invalidCursor();
        q.whereRaw('(o.created_at < ?::timestamptz OR (o.created_at = ?::timestamptz AND o.id > ?))', [after.at, after.at, after.id]);
      }
      const rows = (await q.orderBy([{ column: 'o.created_at', order: 'desc' }, { column: 'o.id', order: 'asc' }]).limit(query.limit + 1)) as SummaryRow[];
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return { status: 200, body: { data: page.map(summaryJson), next_cursor: rows.length > query.limit && last ? encodeCursor(last.id) : null } };
    },
  );
}
