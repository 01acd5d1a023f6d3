import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { PaymentRecords, type PaymentRecord } from '../../src/payments/paymentRecords';
import { STRIPE_API_VERSION } from '../../src/payments/stripeGateway';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';

const SECRET = 'whsec_pledgeflow_test_secret';
let ctx: TestContext;
let records: PaymentRecords;

beforeAll(() => {
  ctx = createTestContext(testConfig({ STRIPE_WEBHOOK_SECRET: SECRET }));
  records = new PaymentRecords(ctx.deps.db);
});
afterAll(() => ctx.close());

/** A Stripe payment the platform knows, authorized and waiting for capture. */
async function stripeHold(amountCents = 2500): Promise<PaymentRecord> {
  const businessKey = `pledge:${randomUUID()}:authorize`;
  const p = await records.ensure({ businessKey, provider: 'stripe', kind: 'authorization', amountCents, currency: 'usd', paymentMethod: 'pm_card_visa' });
  const providerPaymentId = `pi_${randomUUID().replace(/-/g, '')}`;
  return (await records.apply(p.id, { providerStatus: 'requires_capture', capturedCents: 0, refundedCents: 0, providerPaymentId }, { type: 'authorize' })).record;
}

function intent(p: PaymentRecord, fields: Partial<Stripe.PaymentIntent>): Record<string, unknown> {
  return {
    id: p.providerPaymentId,
    object: 'payment_intent',
    amount: p.amountCents,
    amount_capturable: 0,
    amount_received: 0,
    currency: p.currency,
    status: 'requires_capture',
    client_secret: `${p.providerPaymentId}_secret_x`,
    customer: null,
    payment_method: 'pm_1',
    last_payment_error: null,
    latest_charge: null,
    next_action: null,
    metadata: { business_key: p.businessKey },
    ...fields,
  };
}

function event(type: string, object: Record<string, unknown>, id = `evt_${randomUUID().replace(/-/g, '')}`): string {
  return JSON.stringify({
    id,
    object: 'event',
    type,
    api_version: STRIPE_API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  });
}

const sign = (payload: string, secret = SECRET) => Stripe.webhooks.generateTestHeaderString({ payload, secret });

/** `null` sends no Stripe-Signature header at all. */
function deliver(payload: string, signature: string | null = sign(payload)) {
  const req = ctx.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json');
  if (signature !== null) req.set('Stripe-Signature', signature);
  return req.send(payload);
}

async function webhookRows(eventId: string): Promise<number> {
  const [row] = await ctx.deps.db('webhook_events').where({ id: eventId }).count<{ count: string }[]>('* as count');
  return Number(row!.count);
}

const eventId = (payload: string) => (JSON.parse(payload) as { id: string }).id;

describe('POST /v1/webhooks/stripe', () => {
  it('rejects a bad signature with a 400 problem and changes nothing', async () => {
    const p = await stripeHold();
    const payload = event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 2500 }));
    const res = await deliver(payload, sign(payload, 'whsec_someone_else'));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, code: 'invalid_signature' });
    expect(await webhookRows(eventId(payload))).toBe(0);
    expect((await records.findByBusinessKey(p.businessKey))!.status).toBe('requires_capture');
  });

  it('rejects a missing signature, and a body changed after signing', async () => {
    const p = await stripeHold();
    const payload = event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 2500 }));
    expect((await deliver(payload, null)).body).toMatchObject({ status: 400, code: 'invalid_signature' });

    const tampered = payload.replace('"amount_received":2500', '"amount_received":1');
    const res = await deliver(tampered, sign(payload));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_signature');
    expect(await webhookRows(eventId(payload))).toBe(0);
  });

  it('rejects a signature older than the tolerance (a replay)', async () => {
    const p = await stripeHold();
    const payload = event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 2500 }));
    const old = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await deliver(payload, old)).status).toBe(400);
  });

  it('accepts a valid event and moves the payment along its state machine, logging one event', async () => {
    const p = await stripeHold();
    const payload = event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 2500 }));
    const res = await deliver(payload);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, duplicate: false });

    expect(await records.findByBusinessKey(p.businessKey)).toMatchObject({ status: 'succeeded', capturedCents: 2500 });
    const logged = (await records.events(p.id)).filter((e) => e.type.startsWith('webhook:'));
    expect(logged).toEqual([
      expect.objectContaining({ type: 'webhook:payment_intent.succeeded', fromStatus: 'requires_capture', toStatus: 'succeeded', data: expect.objectContaining({ event_id: eventId(payload) }) }),
    ]);
    const stored = await ctx.deps.db('webhook_events').where({ id: eventId(payload) }).first();
    expect(stored).toMatchObject({ type: 'payment_intent.succeeded', payment_id: p.id });
    expect(stored.processed_at).toBeInstanceOf(Date);
  });

  it('processes a duplicate event id once: the second delivery answers 200 and changes nothing', async () => {
    const p = await stripeHold(4000);
    const payload = event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 4000 }));
    expect((await deliver(payload)).body).toEqual({ received: true, duplicate: false });
    const eventsAfterFirst = await records.events(p.id);

    const again = await deliver(payload);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: true, duplicate: true });
    expect(await records.events(p.id)).toEqual(eventsAfterFirst);
    expect(await webhookRows(eventId(payload))).toBe(1);
  });

  it('processes concurrent duplicate deliveries once', async () => {
    const p = await stripeHold(1500);
    // A refund is not idempotent by state alone, so a second processing would be visible in the log.
    await records.apply(p.id, { providerStatus: 'succeeded', capturedCents: 1500, refundedCents: 0, providerPaymentId: p.providerPaymentId! }, { type: 'capture' });
    const charge = { id: `ch_${randomUUID().slice(0, 8)}`, object: 'charge', payment_intent: p.providerPaymentId, amount: 1500, amount_captured: 1500, amount_refunded: 500, refunded: false };
    const payload = event('charge.refunded', charge);
    const before = (await records.events(p.id)).length;

    const responses = await Promise.all(Array.from({ length: 6 }, () => deliver(payload)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(responses.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    expect((await records.events(p.id)).length).toBe(before + 1);
    expect(await records.findByBusinessKey(p.businessKey)).toMatchObject({ status: 'partially_refunded', refundedCents: 500 });
  });

  it('ignores a stale event that would move the payment backwards, but still acknowledges it once', async () => {
    const p = await stripeHold();
    await deliver(event('payment_intent.succeeded', intent(p, { status: 'succeeded', amount_received: 2500 })));
    const before = await records.events(p.id);
    const late = event('payment_intent.amount_capturable_updated', intent(p, { status: 'requires_capture', amount_capturable: 2500 }));
    expect((await deliver(late)).body).toEqual({ received: true, duplicate: false });
    expect((await records.findByBusinessKey(p.businessKey))!.status).toBe('succeeded');
    expect(await records.events(p.id)).toEqual(before);
    expect(await webhookRows(eventId(late))).toBe(1);
  });

  it('records a decline reported by webhook with its codes', async () => {
    const p = await records.ensure({ businessKey: `pledge:${randomUUID()}:charge`, provider: 'stripe', kind: 'charge', amountCents: 900, currency: 'usd', paymentMethod: 'pm_x' });
    const providerPaymentId = `pi_${randomUUID().replace(/-/g, '')}`;
    await records.intentLookup().remember(p.businessKey, providerPaymentId);
    const err = { type: 'card_error', code: 'card_declined', decline_code: 'do_not_honor', message: 'Your card was declined.' };
    const payload = event(
      'payment_intent.payment_failed',
      intent({ ...p, providerPaymentId }, { status: 'requires_payment_method', last_payment_error: err as Stripe.PaymentIntent.LastPaymentError }),
    );
    expect((await deliver(payload)).status).toBe(200);
    expect(await records.findByBusinessKey(p.businessKey)).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'do_not_honor' });
    expect((await records.events(p.id)).at(-1)).toMatchObject({ type: 'webhook:payment_intent.payment_failed', fromStatus: 'pending', toStatus: 'failed' });
  });

  it('acknowledges events about nothing we track', async () => {
    const payload = event('customer.created', { id: 'cus_1', object: 'customer' });
    expect((await deliver(payload)).body).toEqual({ received: true, duplicate: false });
    expect(await ctx.deps.db('webhook_events').where({ id: eventId(payload) }).first()).toMatchObject({ payment_id: null, type: 'customer.created' });
  });

  it('is documented in the OpenAPI description as a public operation', async () => {
    const res = await ctx.http.get('/openapi.json');
    const op = res.body.paths['/v1/webhooks/stripe'].post;
    expect(op.operationId).toBe('receiveStripeWebhook');
    expect(op.security).toEqual([]);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400']));
  });

  it('answers 503 when no webhook secret is configured', async () => {
    const bare = createTestContext(testConfig());
    try {
      const payload = event('customer.created', { id: 'cus_1', object: 'customer' });
      const res = await bare.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', sign(payload)).send(payload);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('webhooks_not_configured');
    } finally {
      await bare.close();
    }
  });
});
