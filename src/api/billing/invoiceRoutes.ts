import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { INVOICE_STATUSES, ISSUER_KINDS } from '../../billing/contract';
import { renderInvoicePdf } from '../../billing/invoicePdf';
import { invoiceFor, listMyInvoices } from '../../billing/invoiceViews';
import { CreditNoteSchema } from './refundRoutes';

/**
 * Invoices (API.md, "Billing"): the caller's invoices (as buyer; `?as=seller` for those the caller issued), one
 * invoice, and its PDF. An invoice is seen by its buyer once finalized, by its issuing seller (drafts too) and by
 * operators (the platform's invoices too); anyone else gets 404, as for an unknown id (src/billing/invoiceViews.ts).
 */

const described = (description: string) => ({ description });

const summaryFields = {
  id: z.uuid(),
  number: z.string().nullable().openapi({ description: '`<issuer prefix>-000001`..., gapless per issuer; null while a draft' }),
  issuer: z.object({ kind: z.enum(ISSUER_KINDS), user_id: z.uuid().optional().openapi({ description: 'The seller (absent for the platform)' }), name: z.string() }),
  customer: z.object({ user_id: z.uuid(), name: z.string() }),
  status: z.enum(INVOICE_STATUSES),
  subtotal_cents: z.number().int(),
  tax_cents: z.number().int(),
  total_cents: z.number().int().openapi({ description: 'subtotal_cents + tax_cents' }),
  currency: z.string(),
  issued_at: z.iso.datetime().nullable().openapi({ description: 'When it was finalized (numbered); null for a draft' }),
  created_at: z.iso.datetime(),
  voided_at: z.iso.datetime().nullable(),
};

const InvoiceSummarySchema = z.object(summaryFields).openapi('InvoiceSummary');
const InvoiceSchema = z
  .object({
    ...summaryFields,
    lines: z.array(
      z.object({
        description: z.string(),
        quantity: z.number().int(),
        unit_amount_cents: z.number().int(),
        amount_cents: z.number().int().openapi({ description: 'quantity × unit_amount_cents' }),
        tax_cents: z.number().int().openapi({ description: 'amount × the issuer’s rate, rounded half-even, added on top' }),
      }),
    ),
    credit_notes: z.array(CreditNoteSchema).openapi({ description: 'Credit notes referencing this invoice (its refunds), oldest first' }),
  })
  .openapi('Invoice');
export const InvoiceListSchema = z.object({ data: z.array(InvoiceSummarySchema), next_cursor: z.string().nullable() }).openapi('InvoiceList');

const ListQuery = z.object({
  as: z.enum(['buyer', 'seller']).default('buyer').openapi({ description: '`buyer` (default): invoices issued to you; `seller`: invoices you issued, drafts included' }),
  ...pageQuery,
});

export function registerInvoiceRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/me/invoices',
      operationId: 'listMyInvoices',
      summary: 'Your invoices as buyer (receipts for pledges collected, orders, bookings), or with as=seller those you issued; newest first',
      tags: ['billing'],
      auth: 'user',
      query: ListQuery,
      responses: { 200: { description: 'A page of invoices', schema: InvoiceListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyInvoices(db, requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/invoices/{id}',
      operationId: 'getInvoice',
      summary: 'An invoice with its lines (its buyer once finalized, its issuing seller, or an operator)',
      tags: ['billing'],
      auth: 'user',
      params: uuidParam(),
      responses: { 200: { description: 'The invoice', schema: InvoiceSchema }, 404: described('No such invoice, or not yours (a draft is not shown to its buyer)') },
    },
    async ({ params, principal }) => ({ status: 200, body: await invoiceFor(db, requirePrincipal(principal), params.id) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/invoices/{id}/pdf',
      operationId: 'getInvoicePdf',
      summary: 'An invoice as a PDF (same access as the invoice)',
      tags: ['billing'],
      auth: 'user',
      params: uuidParam(),
      responses: {
        200: { description: 'The PDF', contentType: 'application/pdf', schema: z.string().openapi({ format: 'binary' }) },
        404: described('No such invoice, or not yours (a draft is not shown to its buyer)'),
      },
    },
    async ({ params, principal, res }) => {
      const invoice = await invoiceFor(db, requirePrincipal(principal), params.id);
      const pdf = await renderInvoicePdf(invoice);
      res
        .status(200)
        .type('application/pdf')
        .setHeader('Content-Disposition', `inline; filename="invoice-${invoice.number ?? 'draft'}.pdf"`)
        .setHeader('Cache-Control', 'private, no-store')
        .send(pdf);
    },
  );
}
