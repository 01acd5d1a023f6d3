import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { PaymentMethodToken } from '../http/paymentMethodToken';
import type { AppDeps } from '../deps';
import { SUBSCRIPTION_STATUSES } from '../../billing/contract';
import { createSubscriptions } from '../../billing/subscriptions';

/**
 * A store's merchant plan (API.md "Billing"), for its owner: subscribe (card saved, first period invoiced and
 * charged at once), read, change plan (prorated: src/billing/subscriptionPlanChanges.ts) and cancel at period end.
 * Another merchant's store is a 404, like an unknown one.
 */

const described = (description: string) => ({ description });

const SubscriptionSchema = z
  .object({
    store_id: z.uuid(),
    plan_id: z.string(),
    status: z.enum(SUBSCRIPTION_STATUSES),
    current_period_start: z.iso.datetime(),
    current_period_end: z.iso.datetime(),
    cancel_at_period_end: z.boolean(),
    canceled_at: z.iso.datetime().nullable(),
    credit_balance_cents: z.number().int().openapi({ description: 'Credit from plan changes (before tax), taken off the next period invoices' }),
    currency: z.string().nullable(),
  })
  .openapi('StoreSubscription');

const PlanId = z.string().min(1).max(64);
const SubscribeBody = z.object({ plan_id: PlanId, payment_method: PaymentMethodToken });
const ChangeBody = z.object({ plan_id: PlanId });
const params = uuidParam('store_id');

export function registerSubscriptionRoutes(api: Api, deps: AppDeps): void {
  const subscriptions = createSubscriptions(deps);
  const common = { tags: ['billing'], auth: ['merchant'] as const, params };

  api.route(
    {
      ...common,
      method: 'post',
      path: '/v1/stores/{store_id}/subscription',
      operationId: 'subscribeStore',
      summary: 'Subscribe the store to a plan: the card is saved and the first period invoiced and charged at once',
      body: SubscribeBody,
      responses: {
        201: { description: 'Active, the first period paid', schema: SubscriptionSchema },
        402: described('`payment_declined` (with `decline_code`): nothing is left active'),
        404: described('No such store, or not yours'),
        409: described('`subscription_exists`: the store has a plan (change it with PATCH)'),
        422: described('`unknown_plan`'),
      },
    },
    async ({ params: p, body, principal }) => ({ status: 201, body: await subscriptions.subscribe(principal, p.store_id, body) }),
  );

  api.route(
    {
      ...common,
      method: 'get',
      path: '/v1/stores/{store_id}/subscription',
      operationId: 'getStoreSubscription',
      summary: "The store's plan subscription",
      responses: { 200: { description: 'The subscription', schema: SubscriptionSchema }, 404: described('No subscription, no such store, or not yours') },
    },
    async ({ params: p, principal }) => ({ status: 200, body: await subscriptions.get(principal, p.store_id) }),
  );

  api.route(
    {
      ...common,
      method: 'patch',
      path: '/v1/stores/{store_id}/subscription',
      operationId: 'changeStorePlan',
      summary: 'Change plan now, prorated to the second: the difference charged at once on its own invoice, or carried as credit',
      body: ChangeBody,
      responses: {
        200: { description: 'The new plan', schema: SubscriptionSchema },
        402: described('`payment_declined`: the plan is unchanged'),
        404: described('No subscription, no such store, or not yours'),
        409: described('`same_plan`, `subscription_not_active` (past due, unpaid, canceled, or renewing right now)'),
        422: described('`unknown_plan` (or another interval or currency)'),
      },
    },
    async ({ params: p, body, principal }) => ({ status: 200, body: await subscriptions.changePlan(principal, p.store_id, body) }),
  );

  api.route(
    {
      ...common,
      method: 'delete',
      path: '/v1/stores/{store_id}/subscription',
      operationId: 'cancelStorePlan',
      summary: 'Cancel at the end of the current period (no further invoice); an unpaid plan ends now',
      responses: {
        200: { description: '`cancel_at_period_end: true`', schema: SubscriptionSchema },
        404: described('No subscription, no such store, or not yours'),
        409: described('`subscription_not_active`: renewing right now, retry'),
      },
    },
    async ({ params: p, principal }) => ({ status: 200, body: await subscriptions.cancel(principal, p.store_id) }),
  );
}
