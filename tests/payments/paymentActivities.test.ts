import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { createCheckoutPaymentActivities } from '../../src/activities/commerce/checkoutPayments';
import type { AppDeps } from '../../src/api/deps';
import type { PaymentGateway } from '../../src/payments/gateway';
import { PaymentRecords } from '../../src/payments/paymentRecords';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';
import { closeDeps, createTestDeps } from '../helpers/context';
import { gatewayIntentCount } from '../helpers/fixtures';

/** Activities called directly (they use no activity Context), on the simulated gateway and a real database. */

let deps: AppDeps;
let sim: SimulatedGateway;
let activities: ReturnType<typeof createCheckoutPaymentActivities>;
let records: PaymentRecords;

beforeAll(() => {
  deps = createTestDeps();
  sim = deps.payments as SimulatedGateway;
  activities = createCheckoutPaymentActivities(deps);
  records = new PaymentRecords(deps.db);
});
afterAll(() => closeDeps(deps));

const bk = (what: string) => `pledge:${randomUUID()}:${what}`;
const hold = (paymentMethod = 'pm_card_visa', amountCents = 10_000, businessKey = bk('authorize')) =>
  activities.authorizePayment({ businessKey, amountCents, currency: 'USD', paymentMethod });

const typed = (type: string, details?: Record<string, unknown>) =>
  expect.objectContaining({ type, nonRetryable: true, ...(details ? { details: [expect.objectContaining(details)] } : {}) });

describe('payment activities', () => {
  it('uses the simulated gateway when STRIPE_SECRET_KEY is unset', () => {
    expect(deps.payments).toBeInstanceOf(SimulatedGateway);
  });

  it('authorize → capture → partial and full refund, each recorded once in the payments table and its log', async () => {
    const p = await hold('pm_card_visa', 10_000);
    expect(p).toMatchObject({ kind: 'authorization', status: 'requires_capture', amountCents: 10_000, currency: 'usd', provider: 'simulated' });
    expect(p.providerPaymentId).toMatch(/^pi_/);

    const captured = await activities.capturePayment({ businessKey: p.businessKey });
    expect(captured).toMatchObject({ status: 'succeeded', capturedCents: 10_000 });
    // A retried capture finds it done and calls nobody.
    expect(await activities.capturePayment({ businessKey: p.businessKey })).toMatchObject({ status: 'succeeded', capturedCents: 10_000 });

    const partial = await activities.refundPayment({ businessKey: p.businessKey, amountCents: 2_500, refundKey: 'r1' });
    expect(partial).toMatchObject({ status: 'partially_refunded', refundedCents: 2_500 });
    // The same refund again (a replayed activity) refunds nothing more.
    expect(await activities.refundPayment({ businessKey: p.businessKey, amountCents: 2_500, refundKey: 'r1' })).toMatchObject({ refundedCents: 2_500 });
    await expect(activities.refundPayment({ businessKey: p.businessKey, amountCents: 7_501, refundKey: 'r2' })).rejects.toEqual(
      typed('PaymentRequestError', { code: 'amount_too_large' }),
    );
    expect(await activities.refundPayment({ businessKey: p.businessKey })).toMatchObject({ status: 'refunded', refundedCents: 10_000 });
    await expect(activities.refundPayment({ businessKey: p.businessKey, refundKey: 'r3' })).rejects.toEqual(
      typed('PaymentRequestError', { code: 'charge_already_refunded' }),
    );

    const [{ total }] = (await deps.db('sim_refunds').where({ payment_intent_id: p.providerPaymentId }).sum('amount_cents as total')) as [{ total: string }];
    expect(Number(total)).toBe(10_000);
    expect((await records.events(p.id)).map((e) => `${e.type}:${e.fromStatus ?? '-'}>${e.toStatus}`)).toEqual([
      'created:->pending',
      'authorize:pending>requires_capture',
      'capture:requires_capture>succeeded',
      'refund:succeeded>partially_refunded',
      'refund:partially_refunded>refunded',
    ]);
  });

  it('a decline is a non-retryable PaymentDeclined failure, recorded, and a retry does not charge again', async () => {
    const businessKey = bk('authorize');
    const attempt = () => hold('pm_card_chargeDeclinedInsufficientFunds', 5_000, businessKey);
    await expect(attempt()).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(attempt()).rejects.toEqual(typed('PaymentDeclined', { businessKey, failureCode: 'card_declined', declineCode: 'insufficient_funds' }));
    expect(await records.findByBusinessKey(businessKey)).toMatchObject({ status: 'failed', declineCode: 'insufficient_funds' });
    expect(await gatewayIntentCount(deps, businessKey)).toBe(1);
  });

  it('authentication required is a PaymentActionRequired failure carrying the client secret; refresh picks up the result', async () => {
    const businessKey = bk('authorize');
    const failure = await hold('pm_card_authenticationRequired', 3_000, businessKey).catch((e: unknown) => e as ApplicationFailure);
    expect(failure).toEqual(typed('PaymentActionRequired', { clientSecret: expect.stringMatching(/^pi_\w+_secret_\w+$/) }));

    const row = (await records.findByBusinessKey(businessKey))!;
    expect(row.status).toBe('requires_action');
    await sim.simulateCustomerAction(row.providerPaymentId!, 'authenticated');
    expect(await activities.refreshPayment({ businessKey })).toMatchObject({ status: 'requires_capture' });
    // A retried authorize now returns the hold rather than the old action.
    expect(await hold('pm_card_authenticationRequired', 3_000, businessKey)).toMatchObject({ status: 'requires_capture' });
    expect(await gatewayIntentCount(deps, businessKey)).toBe(1);
  });

  it('saves a card, then charges it off-session; pm_card_chargeCustomerFail saves but its charge is declined', async () => {
    for (const [paymentMethod, charged] of [
      ['pm_card_visa', true],
      ['pm_card_chargeCustomerFail', false],
    ] as const) {
      const saved = await activities.savePaymentMethod({ businessKey: bk('setup'), paymentMethod, customerRef: randomUUID() });
      expect(saved).toMatchObject({ kind: 'setup', status: 'succeeded', amountCents: 0, currency: null });
      expect(saved.providerCustomerId).toMatch(/^cus_/);
      const charge = activities.chargeOffSession({
        businessKey: bk('charge'),
        amountCents: 4_200,
        currency: 'eur',
        customerId: saved.providerCustomerId!,
        paymentMethod: saved.providerPaymentMethod!,
      });
      if (charged) await expect(charge).resolves.toMatchObject({ kind: 'charge', status: 'succeeded', capturedCents: 4_200 });
      else await expect(charge).rejects.toEqual(typed('PaymentDeclined', { declineCode: 'generic_decline' }));
    }
  });

  it('a card that cannot be saved is a PaymentDeclined failure', async () => {
    await expect(activities.savePaymentMethod({ businessKey: bk('setup'), paymentMethod: 'pm_card_chargeDeclined', customerRef: randomUUID() })).rejects.toEqual(
      typed('PaymentDeclined', { failureCode: 'card_declined' }),
    );
  });

  it('20 concurrent charge activities with one business key make one charge and one payments row', async () => {
    const saved = await activities.savePaymentMethod({ businessKey: bk('setup'), paymentMethod: 'pm_card_visa', customerRef: randomUUID() });
    const businessKey = bk('charge');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        activities.chargeOffSession({ businessKey, amountCents: 999, currency: 'usd', customerId: saved.providerCustomerId!, paymentMethod: saved.providerPaymentMethod! }),
      ),
    );
    expect(new Set(results.map((r) => r.providerPaymentId)).size).toBe(1);
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    expect(await gatewayIntentCount(deps, businessKey)).toBe(1);
    const rows = await deps.db('payments').where({ business_key: businessKey });
    expect(rows).toHaveLength(1);
    const events = await records.events(rows[0].id);
    expect(events.filter((e) => e.type === 'charge')).toHaveLength(1);
  });

  it('capture after void is a non-retryable PaymentStateError, and voiding twice is fine', async () => {
    const p = await hold();
    expect(await activities.cancelPayment({ businessKey: p.businessKey })).toMatchObject({ status: 'canceled' });
    expect(await activities.cancelPayment({ businessKey: p.businessKey })).toMatchObject({ status: 'canceled' });
    await expect(activities.capturePayment({ businessKey: p.businessKey })).rejects.toEqual(typed('PaymentStateError', { status: 'canceled' }));
    expect(await sim.retrieve(p.providerPaymentId!)).toMatchObject({ status: 'canceled', capturedCents: 0 });
  });

  it('refunding a hold that was never captured is a PaymentStateError', async () => {
    const p = await hold();
    await expect(activities.refundPayment({ businessKey: p.businessKey })).rejects.toEqual(typed('PaymentStateError', { status: 'requires_capture' }));
  });

  it('a refund replayed after a webhook already recorded it refunds nothing more', async () => {
    const p = await hold('pm_card_visa', 2_000);
    await activities.capturePayment({ businessKey: p.businessKey });
    // The refund reached the provider, then the worker died before recording it; a webhook recorded the money.
    await sim.refund({ idempotencyKey: `${p.businessKey}:refund`, paymentIntentId: p.providerPaymentId! });
    await records.apply(p.id, { providerStatus: 'succeeded', capturedCents: 2_000, refundedCents: 2_000, providerPaymentId: p.providerPaymentId! }, { type: 'webhook:charge.refunded' });

    expect(await activities.refundPayment({ businessKey: p.businessKey })).toMatchObject({ status: 'refunded', refundedCents: 2_000 });
    expect(await deps.db('sim_refunds').where({ payment_intent_id: p.providerPaymentId })).toHaveLength(1);
    expect((await records.events(p.id)).filter((e) => e.type === 'refund')).toHaveLength(1);
  });

  it('cancelling a captured payment is refused (refund instead)', async () => {
    const p = await hold();
    await activities.capturePayment({ businessKey: p.businessKey });
    await expect(activities.cancelPayment({ businessKey: p.businessKey })).rejects.toEqual(typed('PaymentStateError', { status: 'succeeded' }));
  });

  it('one business key cannot be reused for a different payment', async () => {
    const businessKey = bk('authorize');
    await hold('pm_card_visa', 1_000, businessKey);
    await expect(hold('pm_card_visa', 2_000, businessKey)).rejects.toEqual(typed('PaymentRequestError', { code: 'idempotency_key_reused' }));
  });

  it('an invalid payment method is a PaymentRequestError, unknown payments too', async () => {
    await expect(hold('card_4242')).rejects.toEqual(typed('PaymentRequestError', { code: 'invalid_payment_method' }));
    await expect(activities.capturePayment({ businessKey: bk('nothing') })).rejects.toEqual(typed('PaymentRequestError', { code: 'resource_missing' }));
  });

  it('network-style failures stay retryable', async () => {
    const broken: PaymentGateway = Object.assign(Object.create(sim) as SimulatedGateway, { authorize: () => Promise.reject(new Error('ECONNRESET')) });
    const acts = createCheckoutPaymentActivities({ ...deps, payments: broken });
    const err = await acts.authorizePayment({ businessKey: bk('authorize'), amountCents: 100, currency: 'usd', paymentMethod: 'pm_card_visa' }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toBe('ECONNRESET');
  });

  it('a void that lands while the authorization is in flight voids the new hold too', async () => {
    const businessKey = bk('authorize');
    // The compensation runs between "row written" and "provider answered".
    const racing: PaymentGateway = Object.assign(Object.create(sim) as SimulatedGateway, {
      authorize: async (input: Parameters<PaymentGateway['authorize']>[0]) => {
        expect(await activities.cancelPayment({ businessKey })).toMatchObject({ status: 'canceled' });
        return sim.authorize(input);
      },
    });
    const acts = createCheckoutPaymentActivities({ ...deps, payments: racing });
    expect(await acts.authorizePayment({ businessKey, amountCents: 700, currency: 'usd', paymentMethod: 'pm_card_visa' })).toMatchObject({ status: 'canceled' });
    const [pi] = await deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [businessKey]);
    expect(pi.status).toBe('canceled');
  });

  it('payment_events is append-only in the database', async () => {
    const p = await hold();
    await expect(deps.db('payment_events').where({ payment_id: p.id }).update({ type: 'forged' })).rejects.toThrow(/append-only/);
    await expect(deps.db('payment_events').where({ payment_id: p.id }).delete()).rejects.toThrow(/append-only/);
  });

  it('the database refuses money that breaks the invariants', async () => {
    const p = await hold('pm_card_visa', 1_000);
    await expect(deps.db('payments').where({ id: p.id }).update({ captured_cents: 1_001 })).rejects.toThrow(/check constraint/);
    await expect(deps.db('payments').where({ id: p.id }).update({ refunded_cents: 1 })).rejects.toThrow(/check constraint/);
    await expect(deps.db('payments').where({ id: p.id }).update({ status: 'teleported' })).rejects.toThrow(/check constraint/);
  });
});
