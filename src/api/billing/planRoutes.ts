import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';

/** Merchant plans (API.md, "Billing"): the configured list (MERCHANT_PLANS, else the defaults in src/billing/plans.ts). */

const limit = z.number().int().nullable().openapi({ description: 'null: unlimited' });

const PlanSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    price_cents: z.number().int().openapi({ description: 'The price of one whole period, in minor units' }),
    currency: z.string().openapi({ example: 'USD' }),
    interval: z.enum(['month', 'year']),
    limits: z.object({ products: limit, drops_per_month: limit, hot_variants: limit }),
    transaction_fee_bps: z.number().int().openapi({ description: "The platform's fee on the store's sales, in basis points" }),
  })
  .openapi('Plan');

export function registerPlanRoutes(api: Api, deps: AppDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/plans',
      operationId: 'listPlans',
      summary: 'The merchant plans a store can subscribe to: price per period, limits and transaction fee',
      tags: ['billing'],
      auth: 'public',
      responses: { 200: { description: 'The plans, in configured order', schema: z.object({ data: z.array(PlanSchema) }) } },
    },
    async () => ({ status: 200, body: { data: deps.config.MERCHANT_PLANS } }),
  );
}
