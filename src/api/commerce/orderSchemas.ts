import { z } from 'zod';
import '../http/api'; // teaches zod `.openapi()` before the schemas below use it
import { text } from '../http/text';
import { ORDER_STATUSES } from '../../domain/orders';

/** Shapes shared by the checkout, order and drop-claim routes (validation and OpenAPI documentation). */

/** A shipping or billing address. */
export const Address = z
  .strictObject({
    line1: text(1, 200),
    line2: text(1, 200).optional(),
    city: text(1, 100),
    postal_code: text(1, 20),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/)
      .openapi({ description: 'ISO 3166-1 alpha-2' }),
    region: text(1, 100).optional(),
  })
  .openapi('Address');

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
  tax_cents: z.number().int().openapi({ description: "The store owner's tax, per line half-even, added on top: total_cents = subtotal_cents + tax_cents" }),
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
        line_total_cents: z.number().int().openapi({ description: 'quantity × unit_price_cents, before tax' }),
        tax_rate_bps: z.number().int(),
        tax_cents: z.number().int(),
      }),
    ),
    shipping_address: z.record(z.string(), z.unknown()),
    billing_address: z.record(z.string(), z.unknown()).nullable(),
    status_history: z.array(StatusHistoryEntrySchema),
    receipt: z
      .object({ invoice_id: z.uuid(), number: z.string(), status: z.string(), url: z.string(), pdf_url: z.string() })
      .nullable()
      .openapi({ description: 'The receipt the store owner issued for the payment, once it is captured and recorded (null until then, or for a guest who gave no email)' }),
  })
  .openapi('Order');
