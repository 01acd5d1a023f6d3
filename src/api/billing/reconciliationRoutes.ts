import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';
import { BILLING_CHECKS, BILLING_DIFFERENCE_KINDS } from '../../billing/contract';
import { createBillingReconciliation } from '../../billing/reconciliation';

/**
 * GET /v1/operator/billing/reconciliation (operators only): the daily billing reconciliation run now, in the API
 * process, optionally for one seller. It reads only; what it finds is also logged and counted like a scheduled
 * run's (no operator notification: the caller is the operator). At most MAX_LISTED differences are listed, all
 * are counted.
 */

const MAX_LISTED = 1000;

const DifferenceSchema = z
  .object({
    kind: z.enum(BILLING_DIFFERENCE_KINDS),
    ids: z.record(z.string(), z.string()).openapi({ description: 'The rows involved: charge_id, seller_user_id, payment_key, credit_note_id, invoice_id, payout_id, issuer_key...' }),
    expected: z.union([z.number(), z.string()]).openapi({ description: 'What the other records say it should be (minor units, or a status)' }),
    actual: z.union([z.number(), z.string()]).nullable().openapi({ description: 'What it is; null when the row is missing' }),
    detail: z.string().optional(),
  })
  .openapi('BillingDifference');

const ReconciliationSchema = z
  .object({
    checked: z.object(Object.fromEntries(BILLING_CHECKS.map((c) => [c, z.number().int()])) as Record<(typeof BILLING_CHECKS)[number], z.ZodNumber>),
    differences: z.number().int().openapi({ description: 'How many differences were found' }),
    by_kind: z.record(z.string(), z.number().int()),
    data: z.array(DifferenceSchema).openapi({ description: `The differences (the first ${MAX_LISTED})` }),
  })
  .openapi('BillingReconciliation');

const Query = z.object({ seller_id: z.uuid().optional().openapi({ description: "Only this seller's charges, fee invoices, payouts and invoice numbers" }) });

export function registerReconciliationRoutes(api: Api, deps: AppDeps): void {
  const reconciliation = createBillingReconciliation(deps);
  api.route(
    {
      method: 'get',
      path: '/v1/operator/billing/reconciliation',
      operationId: 'operatorBillingReconciliation',
      summary: 'Run the billing reconciliation now: ledger = invoices = gateway records, every difference listed (operators only)',
      tags: ['billing', 'operations'],
      auth: ['operator'],
      query: Query,
      responses: { 200: { description: 'What was checked and every difference found', schema: ReconciliationSchema } },
    },
    async ({ query }) => {
      const { result, differences } = await reconciliation.checkAll(query.seller_id ? { sellerUserIds: [query.seller_id] } : {}, MAX_LISTED);
      return { status: 200, body: { checked: result.checked, differences: result.differences, by_kind: result.byKind, data: differences } };
    },
  );
}
