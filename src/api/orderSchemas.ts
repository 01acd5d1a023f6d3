import { z } from 'zod';
import { ORDER_STATUSES } from '../domain/orders';

/** Response shapes shared by the checkout and order routes (OpenAPI documentation). */

export const StatusHistoryEntrySchema = z.object({
  from_status: z.string().nullable(),
  to_status: z.string(),
  actor: z.string(),
  reason: z.string().nullable(),
  at: z.iso.datetime(),
});

const orderFields = {
  id: z.uuid(),
  store_id: z.uuid(),
  customer_id: z.uuid().nullable(),
  status: z.enum(ORDER_STATUSES),
  currency: z.string(),
  subtotal_cents: z.number().int(),
  total_cents: z.number().int(),
  created_at: z.iso.datetime(),
};

export const OrderSummarySchema = z.object({ ...orderFields, updated_at: z.iso.datetime() }).openapi('OrderSummary');

export const OrderSchema = z
  .object({
    ...orderFields,
    items: z.array(
      z.object({
        variant_id: z.uuid(),
        sku: z.string(),
        name: z.string(),
        quantity: z.number().int(),
        unit_price_cents: z.number().int(),
        line_total_cents: z.number().int(),
      }),
    ),
    shipping_address: z.record(z.string(), z.unknown()),
    billing_address: z.record(z.string(), z.unknown()).nullable(),
    status_history: z.array(StatusHistoryEntrySchema),
  })
  .openapi('Order');
