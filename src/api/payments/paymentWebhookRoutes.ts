import { z } from 'zod';
import { ProblemSchema, type Api } from '../http/api';
import { Problem } from '../http/problem';
import type { AppDeps } from '../deps';
import { processStripeEvent, verifyStripeEvent, WebhookSignatureError } from '../../payments/webhookEvents';
import { connectedAccountStatus } from '../../payments/stripeMapping';
import { payoutAccountReported } from '../../bookings/providerPayouts';
import { sellerPayoutAccountReported } from '../../billing/payoutAccounts';
import type Stripe from 'stripe';

const WebhookAck = z
  .object({ received: z.literal(true), duplicate: z.boolean() })
  .openapi('WebhookAck', { description: 'The event was verified; duplicate deliveries are acknowledged and ignored.' });

export function registerWebhookRoutes(api: Api, deps: AppDeps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/webhooks/stripe',
      operationId: 'receiveStripeWebhook',
      summary: 'Stripe webhook endpoint (Stripe-Signature verified on the raw body; each event id processed once)',
      tags: ['webhooks'],
      auth: 'public',
      idempotency: 'none',
      // Stripe's event shape is Stripe's to evolve; the signature, not this schema, is what is trusted.
      body: z.looseObject({}).openapi({ description: 'A Stripe Event object, exactly as Stripe sent it.' }),
      responses: {
        200: { description: 'Event accepted (or a duplicate, acknowledged)', schema: WebhookAck },
        400: { description: 'Missing or invalid signature, or not JSON', schema: ProblemSchema, contentType: 'application/problem+json' },
        503: { description: 'STRIPE_WEBHOOK_SECRET is not configured', schema: ProblemSchema, contentType: 'application/problem+json' },
      },
    },
    async ({ req, log }) => {
      // An unsigned request is bad input whatever our configuration: 400 before 503.
      const signature = req.get('stripe-signature');
      if (!signature || !req.rawBody) throw new Problem(400, 'invalid_signature', 'Invalid signature', 'A Stripe-Signature header and a JSON body are required.');
      const secret = deps.config.STRIPE_WEBHOOK_SECRET;
      if (!secret) throw new Problem(503, 'webhooks_not_configured', 'Service unavailable', 'STRIPE_WEBHOOK_SECRET is not set.');
      let event;
      try {
        event = verifyStripeEvent(req.rawBody, signature, secret);
      } catch (err) {
        if (err instanceof WebhookSignatureError) throw new Problem(400, 'invalid_signature', 'Invalid signature', err.message);
        throw err;
      }
      // A connected account's state (a provider's or another seller's payout details) first: it is idempotent, and if
      // it fails the event is not yet recorded as processed, so Stripe's redelivery carries it again.
      const object = event.data.object as { object?: string };
      if (object.object === 'account') {
        const account = { id: (object as Stripe.Account).id, status: connectedAccountStatus(object as Stripe.Account) };
        if (!(await sellerPayoutAccountReported(deps, account))) await payoutAccountReported(deps, account);
      }
      const outcome = await processStripeEvent(deps.db, event, log);
      log.info({ eventId: event.id, type: event.type, ...outcome }, 'stripe webhook');
      return { status: 200, body: { received: true, duplicate: outcome.duplicate } };
    },
  );
}
