import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { createDb, type Db } from '../../src/infra/db';
import { createLogger } from '../../src/logger';
import { createPaymentGateway } from '../../src/payments';
import { PaymentRecords } from '../../src/payments/paymentRecords';
import { createStripeClient, STRIPE_API_VERSION, StripeGateway } from '../../src/payments/stripeGateway';
import { testConfig } from '../helpers/context';
import { readTestEnvironment } from '../helpers/testEnv';
import { recordStripeRequests, type SentStripeRequest } from '../helpers/stripeRequests';

/**
 * stripe-mock validates every request against Stripe's OpenAPI spec (unknown or malformed parameters are
 * 400) but is stateless and answers with fixtures. So these tests assert on what was SENT — path, pinned API
 * version, Idempotency-Key, parameters — and that stripe-mock accepted it (2xx).
 */

type Sent = SentStripeRequest;

let db: Db;
const config = () =>
  testConfig({
    STRIPE_SECRET_KEY: 'sk_test_pledgeflow',
    STRIPE_API_URL: readTestEnvironment().stripeMockUrl,
    STRIPE_TIMEOUT_MS: '7000',
    STRIPE_MAX_RETRIES: '1',
  });

beforeAll(() => {
  db = createDb(config().DATABASE_URL, 5);
});
afterAll(async () => {
  await db.destroy();
});

function gatewayWithRecorder(httpClient?: Stripe.HttpClient) {
  const c = config();
  const stripe = createStripeClient({
    secretKey: c.STRIPE_SECRET_KEY!,
    apiUrl: c.STRIPE_API_URL,
    timeoutMs: c.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: c.STRIPE_MAX_RETRIES,
    emitEventBodies: true,
    httpClient,
  });
  const gateway = new StripeGateway(stripe, { knownIntents: new PaymentRecords(db).intentLookup() });
  return { gateway, sent: recordStripeRequests(stripe), stripe };
}

const posts = (sent: Sent[]) => sent.filter((s) => s.method === 'POST');
const key = (what: string) => `test:${randomUUID()}:${what}`;

function expectAccepted(sent: Sent[]) {
  expect(sent.length).toBeGreaterThan(0);
  for (const s of sent) {
    expect(s.status).toBeGreaterThanOrEqual(200);
    expect(s.status).toBeLessThan(300);
    expect(s.apiVersion).toBe(STRIPE_API_VERSION);
  }
}

describe('StripeGateway against stripe-mock', () => {
  it('is what createPaymentGateway builds when STRIPE_SECRET_KEY is set, with the pinned version, timeout and retries', () => {
    const c = config();
    const gateway = createPaymentGateway({ config: c, db, logger: createLogger('silent') });
    expect(gateway).toBeInstanceOf(StripeGateway);
    const stripe = (gateway as StripeGateway).stripe;
    expect(stripe.getApiField('version')).toBe(STRIPE_API_VERSION);
    expect(stripe.getApiField('timeout')).toBe(7000);
    expect(stripe.getMaxNetworkRetries()).toBe(1);
    expect(stripe.getApiField('host')).toBe('127.0.0.1');
    expect(stripe.getApiField('protocol')).toBe('http');
  });

  it('savePaymentMethod: finds or creates the customer (key from the ref), then a confirmed off-session SetupIntent', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    const ref = randomUUID();
    const k = key('setup');
    const result = await gateway.savePaymentMethod({ idempotencyKey: k, paymentMethod: 'pm_card_visa', customerRef: ref, email: 'b@example.test' });
    expect(result.id).toMatch(/^seti_/);
    expectAccepted(sent);

    expect(sent[0]).toMatchObject({ method: 'GET' });
    expect(decodeURIComponent(sent[0]!.path)).toContain(`/v1/customers/search?query=metadata['customer_ref']:'${ref}'`);
    const [customer, setup] = posts(sent);
    expect(customer).toMatchObject({ path: '/v1/customers', idempotencyKey: `customer:${ref}`, body: { metadata: { customer_ref: ref } } });
    expect(setup).toMatchObject({
      path: '/v1/setup_intents',
      idempotencyKey: k,
      body: { payment_method: 'pm_card_visa', usage: 'off_session', confirm: true, metadata: { business_key: k } },
    });
  });

  it('authorize: looks for an earlier intent, creates one unconfirmed with the business key, records it, then confirms', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    const k = key('authorize');
    // The platform's row exists first (as the activities do), so the new intent's id can be recorded.
    await new PaymentRecords(db).ensure({ businessKey: k, provider: 'stripe', kind: 'authorization', amountCents: 2500, currency: 'usd', paymentMethod: 'pm_card_visa' });

    await gateway.authorize({ idempotencyKey: k, amountCents: 2500, currency: 'USD', paymentMethod: 'pm_card_visa', metadata: { pledge_id: 'p1' } });
    expectAccepted(sent);
    expect(sent.map((s) => `${s.method} ${s.path.split('?')[0]}`)).toEqual([
      'GET /v1/payment_intents/search',
      'POST /v1/payment_intents',
      expect.stringMatching(/^POST \/v1\/payment_intents\/pi_\w+\/confirm$/),
    ]);
    expect(decodeURIComponent(sent[0]!.path)).toContain(`query=metadata['business_key']:'${k}'`);
    expect(sent[1]).toMatchObject({
      idempotencyKey: `${k}:create`,
      body: { amount: 2500, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', metadata: { business_key: k, pledge_id: 'p1' } },
    });
    expect(sent[1]!.body).not.toHaveProperty('confirm');
    expect(sent[2]).toMatchObject({ idempotencyKey: `${k}:confirm` });

    const createdId = /payment_intents\/(pi_\w+)\/confirm/.exec(sent[2]!.path)![1];
    expect((await new PaymentRecords(db).findByBusinessKey(k))?.providerPaymentId).toBe(createdId);
  });

  it('chargeOffSession: the same create-then-confirm, confirmed off_session with the customer', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    const k = key('charge');
    await gateway.chargeOffSession({ idempotencyKey: k, amountCents: 4000, currency: 'eur', customerId: 'cus_123', paymentMethod: 'pm_card_visa' });
    expectAccepted(sent);
    const [create, confirm] = posts(sent);
    expect(create).toMatchObject({
      path: '/v1/payment_intents',
      idempotencyKey: `${k}:create`,
      body: { amount: 4000, currency: 'eur', capture_method: 'automatic', customer: 'cus_123', metadata: { business_key: k } },
    });
    expect(confirm).toMatchObject({ idempotencyKey: `${k}:confirm`, body: { off_session: true } });
  });

  it('capture, cancel and refund each send their idempotency key', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    const [kc, kv, kr] = [key('capture'), key('cancel'), key('refund')];
    await gateway.capture({ idempotencyKey: kc, paymentIntentId: 'pi_123', amountCents: 700 });
    await gateway.cancel({ idempotencyKey: kv, paymentIntentId: 'pi_456' });
    const refund = await gateway.refund({ idempotencyKey: kr, paymentIntentId: 'pi_789', amountCents: 300 });
    expect(refund.id).toMatch(/^re_/);
    expectAccepted(sent);
    expect(sent).toEqual([
      expect.objectContaining({ method: 'POST', path: '/v1/payment_intents/pi_123/capture', idempotencyKey: kc, body: expect.objectContaining({ amount_to_capture: 700 }) }),
      expect.objectContaining({ method: 'POST', path: '/v1/payment_intents/pi_456/cancel', idempotencyKey: kv }),
      expect.objectContaining({ method: 'POST', path: '/v1/refunds', idempotencyKey: kr, body: { payment_intent: 'pi_789', amount: 300 } }),
    ]);
  });

  it('retrieve reads the intent with its latest charge (for refunded totals)', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    const result = await gateway.retrieve('pi_abc');
    expect(result.id).toBe('pi_abc');
    expectAccepted(sent);
    expect(decodeURIComponent(sent[0]!.path)).toBe('/v1/payment_intents/pi_abc?expand[0]=latest_charge');
  });

  it('never sends a second create when the payments table already knows the intent for the business key', async () => {
    const { gateway, sent, stripe } = gatewayWithRecorder();
    const existing = 'pi_existingForThisKey';
    const fixture = await stripe.paymentIntents.retrieve(existing); // stripe-mock's answer for this id
    sent.length = 0;

    const k = key('authorize');
    const records = new PaymentRecords(db);
    await records.ensure({ businessKey: k, provider: 'stripe', kind: 'authorization', amountCents: fixture.amount, currency: fixture.currency, paymentMethod: 'pm_card_visa' });
    await records.intentLookup().remember(k, existing);

    const result = await gateway.authorize({ idempotencyKey: k, amountCents: fixture.amount, currency: fixture.currency, paymentMethod: 'pm_card_visa' });
    expect(result.id).toBe(existing);
    expectAccepted(sent);
    expect(sent.map((s) => `${s.method} ${s.path.split('?')[0]}`)).toEqual([`GET /v1/payment_intents/${existing}`]);
    expect(posts(sent)).toHaveLength(0);
  });

  it('never sends a second create when Stripe search finds an intent carrying the business key', async () => {
    const k = key('charge');
    // stripe-mock's search fixture has empty metadata; stamp our key on it, as Stripe would return it.
    const inner = Stripe.createNodeHttpClient();
    const stampSearch: Stripe.HttpClient = {
      getClientName: () => 'stamp-search',
      makeRequest: async (host, port, path, method, headers, data, protocol, timeout) => {
        const res = await inner.makeRequest(host, port, path, method, headers, data, protocol, timeout);
        if (!path.startsWith('/v1/payment_intents/search')) return res;
        const body = (await res.toJSON()) as { data: Array<{ metadata: Record<string, string>; status: string; last_payment_error: unknown }> };
        body.data[0]!.metadata = { business_key: k };
        body.data[0]!.status = 'succeeded';
        return Object.assign(Object.create(Object.getPrototypeOf(res) as object) as object, res, { toJSON: async () => body });
      },
    };
    const { gateway, sent, stripe } = gatewayWithRecorder(stampSearch);
    const fixture = (await stripe.paymentIntents.search({ query: `metadata['business_key']:'${k}'` })).data[0]!;
    sent.length = 0;

    const result = await gateway.chargeOffSession({
      idempotencyKey: k,
      amountCents: fixture.amount,
      currency: fixture.currency,
      customerId: 'cus_1',
      paymentMethod: 'pm_card_visa',
    });
    expect(result).toMatchObject({ id: fixture.id, status: 'succeeded' });
    expectAccepted(sent);
    expect(sent.map((s) => `${s.method} ${s.path.split('?')[0]}`)).toEqual(['GET /v1/payment_intents/search']);
  });

  it('refuses, without calling Stripe, what Stripe would refuse: bad payment methods, amounts and currencies', async () => {
    const { gateway, sent } = gatewayWithRecorder();
    await expect(gateway.authorize({ idempotencyKey: key('a'), amountCents: 100, currency: 'usd', paymentMethod: 'tok_visa' })).rejects.toMatchObject({
      code: 'invalid_payment_method',
    });
    await expect(gateway.authorize({ idempotencyKey: key('a'), amountCents: -5, currency: 'usd', paymentMethod: 'pm_card_visa' })).rejects.toMatchObject({
      code: 'invalid_amount',
    });
    await expect(gateway.authorize({ idempotencyKey: key('a'), amountCents: 5, currency: 'us', paymentMethod: 'pm_card_visa' })).rejects.toMatchObject({
      code: 'invalid_currency',
    });
    expect(sent).toHaveLength(0);
  });

  describe('maps what Stripe answers into the port', () => {
    /**
     * Sends the request to stripe-mock (so it is still validated), then replaces the answer with the error
     * Stripe would give for that situation, which stripe-mock cannot produce.
     */
    function answering(pathPattern: RegExp, status: number, error: (fixture: Record<string, unknown>) => Record<string, unknown>): Stripe.HttpClient {
      const inner = Stripe.createNodeHttpClient();
      return {
        getClientName: () => 'answering',
        makeRequest: async (host, port, path, method, headers, data, protocol, timeout) => {
          const res = await inner.makeRequest(host, port, path, method, headers, data, protocol, timeout);
          if (!pathPattern.test(path)) return res;
          expect(res.getStatusCode()).toBe(200); // stripe-mock accepted the request itself
          const body = { error: error((await res.toJSON()) as Record<string, unknown>) };
          return {
            getStatusCode: () => status,
            getHeaders: () => res.getHeaders(),
            getRawResponse: () => res.getRawResponse(),
            toStream: (cb: () => void) => res.toStream(cb),
            toJSON: async () => body,
          };
        },
      };
    }

    it('a card decline on confirm is a failed outcome with the decline codes', async () => {
      const decline = { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' };
      const { gateway } = gatewayWithRecorder(
        answering(/\/confirm$/, 402, (pi) => ({
          type: 'card_error',
          ...decline,
          payment_intent: { ...pi, status: 'requires_payment_method', last_payment_error: { type: 'card_error', ...decline } },
        })),
      );
      const result = await gateway.authorize({ idempotencyKey: key('a'), amountCents: 1000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' });
      expect(result).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'insufficient_funds', capturedCents: 0 });
    });

    it('authentication_required off-session is requires_action with the client secret', async () => {
      const decline = { code: 'authentication_required', decline_code: 'authentication_required', message: 'This transaction requires authentication.' };
      const { gateway } = gatewayWithRecorder(
        answering(/\/confirm$/, 402, (pi) => ({
          type: 'card_error',
          ...decline,
          payment_intent: { ...pi, status: 'requires_payment_method', client_secret: 'pi_1_secret_2', last_payment_error: { type: 'card_error', ...decline } },
        })),
      );
      const result = await gateway.chargeOffSession({ idempotencyKey: key('c'), amountCents: 1000, currency: 'usd', customerId: 'cus_1', paymentMethod: 'pm_card_authenticationRequired' });
      expect(result).toMatchObject({ status: 'requires_action', failureCode: 'authentication_required', nextAction: { client_secret: 'pi_1_secret_2' } });
    });

    it('capture of a voided intent is a PaymentStateError', async () => {
      const { gateway } = gatewayWithRecorder(
        answering(/\/capture$/, 400, (pi) => ({
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: 'This PaymentIntent could not be captured because it has a status of canceled.',
          payment_intent: { ...pi, status: 'canceled' },
        })),
      );
      await expect(gateway.capture({ idempotencyKey: key('cap'), paymentIntentId: 'pi_void' })).rejects.toMatchObject({
        name: 'PaymentStateError',
        currentStatus: 'canceled',
      });
    });

    it('cancelling an already cancelled intent returns it instead of failing', async () => {
      const { gateway } = gatewayWithRecorder(
        answering(/\/cancel$/, 400, (pi) => ({
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: 'You cannot cancel this PaymentIntent because it has a status of canceled.',
          payment_intent: { ...pi, status: 'canceled' },
        })),
      );
      expect((await gateway.cancel({ idempotencyKey: key('v'), paymentIntentId: 'pi_void' })).status).toBe('canceled');
    });

    it('a key reused with other parameters is a PaymentRequestError', async () => {
      const { gateway } = gatewayWithRecorder(
        answering(/^\/v1\/refunds$/, 400, () => ({
          type: 'idempotency_error',
          message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.',
        })),
      );
      await expect(gateway.refund({ idempotencyKey: key('r'), paymentIntentId: 'pi_1', amountCents: 5 })).rejects.toMatchObject({
        name: 'PaymentRequestError',
        code: 'idempotency_key_reused',
      });
    });
  });
});
