import Stripe from 'stripe';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import { PaymentRecords, stateFromIntent, stateFromSetup, type PaymentRecord, type ProviderState } from './paymentRecords';
import { toIntentResult, toSetupResult } from './stripeMapping';

/**
 * Stripe webhook processing. Verification happens on the exact bytes Stripe signed; processing is once per
 * event id: the webhook_events row and the payment change commit together, so a duplicate delivery (or two
 * racing ones) finds the row and changes nothing, and a failed attempt leaves no row and is retried by Stripe.
 */

export class WebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

/** Five minutes, Stripe's default: older signatures are replays. */
const TOLERANCE_SECONDS = 300;

export function verifyStripeEvent(rawBody: Buffer, signature: string | undefined, secret: string): Stripe.Event {
  if (!signature) throw new WebhookSignatureError('Missing Stripe-Signature header.');
  try {
    return Stripe.webhooks.constructEvent(rawBody, signature, secret, TOLERANCE_SECONDS);
  } catch (err) {
    throw new WebhookSignatureError(err instanceof Error ? err.message : 'Invalid signature.');
  }
}

export interface WebhookOutcome {
  duplicate: boolean;
  paymentId?: string;
  /** Whether the payment changed (false for unrelated events and stale reports). */
  applied: boolean;
}

/** What the event says about one of our payments: its provider id, business key and new state. */
function reading(event: Stripe.Event): { providerId: string; businessKey?: string; state: () => ProviderState } | undefined {
  const object = event.data.object as { object?: string };
  if (object.object === 'payment_intent') {
    const pi = object as Stripe.PaymentIntent;
    return { providerId: pi.id, businessKey: pi.metadata?.business_key, state: () => stateFromIntent(toIntentResult(pi)) };
  }
  if (object.object === 'setup_intent') {
    const si = object as Stripe.SetupIntent;
    return { providerId: si.id, businessKey: si.metadata?.business_key, state: () => stateFromSetup(toSetupResult(si)) };
  }
  if (object.object === 'charge' && event.type.startsWith('charge.refund')) {
    const ch = object as Stripe.Charge;
    const pi = typeof ch.payment_intent === 'string' ? ch.payment_intent : ch.payment_intent?.id;
    if (!pi) return undefined;
    return {
      providerId: pi,
      state: () => ({ providerStatus: 'succeeded', capturedCents: ch.amount_captured, refundedCents: ch.amount_refunded, providerPaymentId: pi }),
    };
  }
  return undefined;
}

export async function processStripeEvent(db: Db, event: Stripe.Event, logger?: Logger): Promise<WebhookOutcome> {
  return db.transaction(async (trx) => {
    const claimed = await trx.raw<{ rows: unknown[] }>(
      "INSERT INTO webhook_events (id, provider, type) VALUES (?, 'stripe', ?) ON CONFLICT (id) DO NOTHING RETURNING id",
      [event.id, event.type],
    );
    if (claimed.rows.length === 0) return { duplicate: true, applied: false };

    const records = new PaymentRecords(trx);
    const about = reading(event);
    let payment: PaymentRecord | undefined;
    let applied = false;
    if (about) {
      payment =
        (await records.findByProviderId('stripe', about.providerId)) ??
        (about.businessKey ? await records.findByBusinessKey(about.businessKey) : undefined);
      if (payment && payment.provider === 'stripe') {
        const result = await records.apply(payment.id, about.state(), { type: `webhook:${event.type}`, data: { event_id: event.id } });
        applied = result.applied;
      } else {
        payment = undefined;
      }
    }
    if (!payment) logger?.debug({ eventId: event.id, type: event.type }, 'Stripe event about nothing we track');
    await trx('webhook_events')
      .where({ id: event.id })
      .update({ payment_id: payment?.id ?? null, processed_at: trx.fn.now() });
    return { duplicate: false, paymentId: payment?.id, applied };
  });
}
