import { z } from 'zod';
import { requirePrincipal } from '../../accounts/authorization';
import { createPledgeRecovery } from '../../campaigns/pledgeRecovery';
import type { AppDeps } from '../deps';
import { PaymentMethodToken } from '../http/paymentMethodToken';
import { uuidParam, type Api } from '../http/api';

/**
 * PUT /v1/pledges/{id}/payment-method: schema, one call to the card-replacement service
 * (src/campaigns/pledgeRecovery.ts), the answer.
 */

const Body = z
  .strictObject({
    payment_method: PaymentMethodToken,
  })
  .openapi('UpdatePaymentMethodRequest');

const ResponseSchema = z
  .looseObject({
    id: z.uuid(),
    campaign_id: z.uuid(),
    status: z.string(),
    amount_cents: z.number().int(),
    currency: z.string(),
    failure_code: z.string().nullable(),
  })
  .openapi({ description: 'The pledge, as GET /v1/pledges/{id} returns it.' });

export function registerPledgeRecoveryRoutes(api: Api, deps: AppDeps): void {
  const recovery = createPledgeRecovery(deps);

  api.route(
    {
      method: 'put',
      path: '/v1/pledges/{id}/payment-method',
      operationId: 'updatePledgePaymentMethod',
      summary: 'Replace the card behind a pledge (while live, or to rescue a failed charge during the dropped-pledge window)',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      body: Body,
      responses: {
        200: { description: 'Card replaced; in the dropped-pledge window the pledge is now collected', schema: ResponseSchema },
        402: { description: '`payment_declined` (with `decline_code`): the new card was refused; the pledge is unchanged (and stays in its window)' },
        404: { description: 'No such pledge of yours' },
        409: { description: '`pledge_not_updatable` (neither live nor in its payment window) or `pledge_changed` (a concurrent change)' },
        422: { description: '`payment_method_rejected`' },
        503: { description: '`payment_unavailable` or `payment_window_unavailable`: retry the same request' },
      },
    },
    async ({ params, body, principal }) => ({
      status: 200,
      body: await recovery.changePaymentMethod(requirePrincipal(principal), params.id, body.payment_method),
    }),
  );
}
