import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { Problem } from '../http/problem';
import { text } from '../http/text';
import { requirePrincipal } from '../../accounts/authorization';
import { CREDIT_NOTE_STATUSES, REFUND_FAILED } from '../../billing/contract';
import { creditNoteJson } from '../../billing/creditNotes';
import { RefundFailedError, refundFor, type RefundBody } from '../../billing/refunds';

/**
 * Partial refunds (API.md, "Billing"): POST /v1/orders/{id}/refunds and /v1/bookings/{id}/refunds, by the seller
 * (the store's owner, the booking's provider) or an operator; anyone else gets the 404 an unknown id gets. Each is
 * a credit note against the charge's receipt (src/billing/refunds.ts). Idempotency-Key required: the same key and
 * body answer the same credit note; a refund the provider did not answer (503) resumes under the same key.
 */

const described = (description: string) => ({ description });

export const CreditNoteSchema = z
  .object({
    id: z.uuid(),
    number: z.string().openapi({ description: '`<issuer prefix>-CN-000001`..., gapless per issuer' }),
    invoice_id: z.uuid().nullable().openapi({ description: 'The receipt it credits (null: the charge has no receipt, e.g. a guest who left no email)' }),
    amount_cents: z.number().int().openapi({ description: 'Money given back, tax included' }),
    tax_cents: z.number().int().openapi({ description: 'The tax part: the receipt’s tax in proportion, half-even; the last refund takes what is left' }),
    currency: z.string(),
    reason: z.string(),
    status: z.enum(CREDIT_NOTE_STATUSES).openapi({ description: 'pending until the provider refunded (succeeded) or refused (failed: the amount is refundable again)' }),
    created_at: z.iso.datetime(),
  })
  .openapi('CreditNote');

const MAX_ITEMS = 200;
const RefundBodyBase = {
  amount_cents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ description: 'Minor units, tax included; at most what is left to refund' }),
  reason: text(1, 500),
};
const OrderRefundBody = z
  .object({
    ...RefundBodyBase,
    items: z
      .array(z.strictObject({ variant_id: z.uuid(), quantity: z.number().int().positive().max(1_000_000) }))
      .min(1)
      .max(MAX_ITEMS)
      .optional()
      .openapi({ description: 'Units returned: put back on sale (never more than the order sold and has not restocked)' }),
  })
  .strict();
const BookingRefundBody = z.object(RefundBodyBase).strict();

const responses = (what: string) => ({
  201: { description: 'The credit note (the same one for a retry with the same key and body)', schema: CreditNoteSchema },
  400: described('Invalid body, or no Idempotency-Key'),
  404: described(`No such ${what}, or not yours`),
  409: described('`not_refundable`: nothing was charged for it (yet)'),
  422: described('`refund_exceeds_remaining` (with `remaining_cents`), `restock_exceeds_sold`, `idempotency_key_reused`'),
  502: described('`refund_failed`: the provider refused; the credit note is failed and its amount refundable again'),
  503: described('`payment_provider_unavailable`: the credit note is pending; retry with the same Idempotency-Key'),
});

export function registerRefundRoutes(api: Api, deps: AppDeps): void {
  const refund = async (principal: Parameters<typeof requirePrincipal>[0], source: { kind: 'order' | 'booking'; id: string }, body: RefundBody, key: string) => {
    try {
      return { status: 201, body: creditNoteJson(await refundFor(deps, requirePrincipal(principal), source, body, key)) };
    } catch (err) {
      if (err instanceof RefundFailedError) {
        throw new Problem(502, REFUND_FAILED, 'Refund failed', err.message, { credit_note_id: err.note.id, failure_code: err.note.failure_code });
      }
      throw err;
    }
  };

  api.route(
    {
      method: 'post',
      path: '/v1/orders/{id}/refunds',
      operationId: 'refundOrder',
      summary: 'Refund part of an order (store owner or operator): a credit note against its receipt; returned units optionally restocked',
      tags: ['billing'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam(),
      body: OrderRefundBody,
      responses: responses('order'),
    },
    async ({ params, body, principal, req }) => refund(principal, { kind: 'order', id: params.id }, body, req.get('idempotency-key')!),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/bookings/{id}/refunds',
      operationId: 'refundBooking',
      summary: 'Refund part of a booking’s charge (its provider or an operator): a credit note against its receipt',
      tags: ['billing'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam(),
      body: BookingRefundBody,
      responses: responses('booking'),
    },
    async ({ params, body, principal, req }) => refund(principal, { kind: 'booking', id: params.id }, body, req.get('idempotency-key')!),
  );
}
