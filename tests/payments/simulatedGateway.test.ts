import { randomUUID } from 'node:crypto';
import { createDb, type Db } from '../../src/infra/db';
import { PaymentRequestError, PaymentStateError } from '../../src/payments/gateway';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';
import { testConfig } from '../helpers/context';
import { gatewayIntentCount } from '../helpers/fixtures';

let db: Db;
let gateway: SimulatedGateway;

beforeAll(() => {
  db = createDb(testConfig().DATABASE_URL, 25);
  gateway = new SimulatedGateway(db);
});
afterAll(async () => {
  await db.destroy();
});

const key = (what: string) => `test:${randomUUID()}:${what}`;
const authorize = (paymentMethod: string, amountCents = 2500, idempotencyKey = key('authorize')) =>
  gateway.authorize({ idempotencyKey, amountCents, currency: 'USD', paymentMethod });

async function savedCustomer(paymentMethod = 'pm_card_visa') {
  const setup = await gateway.savePaymentMethod({ idempotencyKey: key('setup'), paymentMethod, customerRef: randomUUID() });
  return setup;
}

describe('SimulatedGateway: Stripe test payment methods', () => {
  it('pm_card_visa saves, authorizes and charges off-session', async () => {
    const setup = await savedCustomer('pm_card_visa');
    expect(setup).toMatchObject({ status: 'succeeded', paymentMethod: 'pm_card_visa' });
    expect(setup.id).toMatch(/^seti_[A-Za-z0-9]{24}$/);
    expect(setup.customerId).toMatch(/^cus_[A-Za-z0-9]{24}$/);

    const hold = await authorize('pm_card_visa', 2500);
    expect(hold).toMatchObject({ status: 'requires_capture', amountCents: 2500, currency: 'usd', capturedCents: 0, refundedCents: 0 });
    expect(hold.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(hold.failureCode).toBeUndefined();

    const charge = await gateway.chargeOffSession({
      idempotencyKey: key('charge'),
      amountCents: 4000,
      currency: 'eur',
      customerId: setup.customerId,
      paymentMethod: setup.paymentMethod,
    });
    expect(charge).toMatchObject({ status: 'succeeded', capturedCents: 4000, customerId: setup.customerId });
  });

  it('pm_card_chargeDeclined is declined with card_declined / generic_decline, and cannot be saved', async () => {
    expect(await authorize('pm_card_chargeDeclined')).toMatchObject({
      status: 'failed',
      failureCode: 'card_declined',
      declineCode: 'generic_decline',
      capturedCents: 0,
    });
    expect(await savedCustomer('pm_card_chargeDeclined')).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'generic_decline' });
  });

  it('pm_card_chargeDeclinedInsufficientFunds is declined with insufficient_funds', async () => {
    const result = await authorize('pm_card_chargeDeclinedInsufficientFunds');
    expect(result).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'insufficient_funds' });
    expect(result.failureMessage).toMatch(/insufficient funds/);
  });

  it('pm_card_authenticationRequired requires action and hands the client what it needs', async () => {
    const result = await authorize('pm_card_authenticationRequired');
    expect(result.status).toBe('requires_action');
    expect(result.capturedCents).toBe(0);
    expect(result.nextAction).toEqual({ type: 'use_stripe_sdk', client_secret: expect.stringMatching(/^pi_[A-Za-z0-9]{24}_secret_[A-Za-z0-9]{24}$/) });
    expect(result.nextAction!.client_secret.startsWith(`${result.id}_secret_`)).toBe(true);

    const setup = await savedCustomer('pm_card_authenticationRequired');
    expect(setup.status).toBe('requires_action');
    expect(setup.nextAction?.client_secret).toMatch(new RegExp(`^${setup.id}_secret_`));

    // Once the customer authenticates (Stripe.js in the browser), the hold exists and can be captured.
    await gateway.simulateCustomerAction(result.id, 'authenticated');
    expect((await gateway.retrieve(result.id)).status).toBe('requires_capture');
    expect(await gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: result.id })).toMatchObject({ status: 'succeeded', capturedCents: 2500 });
  });

  it('pm_card_authenticationRequired off-session reports authentication_required as requires_action', async () => {
    const setup = await savedCustomer('pm_card_authenticationRequired');
    await gateway.simulateCustomerAction(setup.id, 'authenticated');
    const charge = await gateway.chargeOffSession({
      idempotencyKey: key('charge'),
      amountCents: 1000,
      currency: 'usd',
      customerId: setup.customerId,
      paymentMethod: setup.paymentMethod,
    });
    expect(charge).toMatchObject({ status: 'requires_action', failureCode: 'authentication_required', capturedCents: 0 });
    expect(charge.nextAction?.client_secret).toMatch(/_secret_/);
  });

  it('pm_card_chargeCustomerFail saves fine but its off-session charge fails', async () => {
    const setup = await savedCustomer('pm_card_chargeCustomerFail');
    expect(setup.status).toBe('succeeded');
    const charge = await gateway.chargeOffSession({
      idempotencyKey: key('charge'),
      amountCents: 1500,
      currency: 'usd',
      customerId: setup.customerId,
      paymentMethod: setup.paymentMethod,
    });
    expect(charge).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'generic_decline', capturedCents: 0 });
  });

  it('an unlisted pm_ token behaves like pm_card_visa; anything not starting with pm_ is refused', async () => {
    expect((await authorize('pm_card_mastercard')).status).toBe('requires_capture');
    await expect(authorize('tok_visa')).rejects.toMatchObject({ name: 'PaymentRequestError', code: 'invalid_payment_method' });
    await expect(authorize('4242424242424242')).rejects.toBeInstanceOf(PaymentRequestError);
  });

  it('refuses an off-session charge of a card never saved to the customer', async () => {
    const setup = await savedCustomer('pm_card_visa');
    await expect(
      gateway.chargeOffSession({ idempotencyKey: key('charge'), amountCents: 100, currency: 'usd', customerId: setup.customerId, paymentMethod: 'pm_card_other' }),
    ).rejects.toMatchObject({ code: 'payment_method_not_attached' });
  });

  it('refuses bad money before anything is stored', async () => {
    await expect(authorize('pm_card_visa', 0)).rejects.toMatchObject({ code: 'invalid_amount' });
    await expect(authorize('pm_card_visa', 10.5)).rejects.toMatchObject({ code: 'invalid_amount' });
    await expect(gateway.authorize({ idempotencyKey: key('a'), amountCents: 100, currency: 'dollars', paymentMethod: 'pm_card_visa' })).rejects.toMatchObject({
      code: 'invalid_currency',
    });
  });
});

describe('SimulatedGateway: idempotency', () => {
  it('the same key twice returns the first result and creates one payment intent', async () => {
    const k = key('authorize');
    const first = await authorize('pm_card_visa', 1200, k);
    const second = await authorize('pm_card_visa', 1200, k);
    expect(second).toEqual(first);
    expect(await gatewayIntentCount({ db }, k)).toBe(1);
  });

  it('20 concurrent charges with the same key make exactly one charge', async () => {
    const setup = await savedCustomer('pm_card_visa');
    const k = key('charge');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        gateway.chargeOffSession({ idempotencyKey: k, amountCents: 5000, currency: 'usd', customerId: setup.customerId, paymentMethod: setup.paymentMethod }),
      ),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.every((r) => r.status === 'succeeded' && r.capturedCents === 5000)).toBe(true);
    expect(await gatewayIntentCount({ db }, k)).toBe(1);
    const [{ total }] = (await db('sim_payment_intents').where({ customer_id: setup.customerId }).sum('captured_cents as total')) as [{ total: string }];
    expect(Number(total)).toBe(5000);
  });

  it('20 concurrent authorizations with the same key place one hold', async () => {
    const k = key('authorize');
    const results = await Promise.all(Array.from({ length: 20 }, () => authorize('pm_card_visa', 777, k)));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await gatewayIntentCount({ db }, k)).toBe(1);
  });

  it('concurrent holds under many keys (sharing statements) each get their own answer: one intent per key, twins replay, a reused key is refused', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => key(`batch-${i}`));
    const calls = [
      ...keys.map((k, i) => authorize(i === 3 ? 'pm_card_chargeDeclined' : 'pm_card_visa', 1000 + i, k)),
      authorize('pm_card_visa', 1000, keys[0]), // a twin: same key, same request
      authorize('pm_card_visa', 9999, keys[1]), // same key, another amount
    ];
    const settled = await Promise.allSettled(calls);
    const value = (i: number) => (settled[i] as PromiseFulfilledResult<Awaited<ReturnType<typeof authorize>>>).value;
    expect(settled.slice(0, 13).every((s) => s.status === 'fulfilled')).toBe(true);
    expect(new Set(keys.map((_, i) => value(i).id)).size).toBe(keys.length);
    expect(value(12)).toEqual(value(0));
    expect(value(3)).toMatchObject({ status: 'failed', declineCode: 'generic_decline' });
    expect(value(5)).toMatchObject({ status: 'requires_capture', amountCents: 1005 });
    expect(settled[13]).toMatchObject({ status: 'rejected', reason: { code: 'idempotency_key_reused' } });
    for (const k of keys) expect(await gatewayIntentCount({ db }, k)).toBe(1);
    // Each key's stored response is the answer its caller got.
    expect(await authorize('pm_card_visa', 1007, keys[7])).toEqual(value(7));
  });

  it('a repeated declined key replays the decline, not a new attempt', async () => {
    const k = key('authorize');
    const first = await authorize('pm_card_chargeDeclined', 900, k);
    expect(await authorize('pm_card_chargeDeclined', 900, k)).toEqual(first);
    expect(await gatewayIntentCount({ db }, k)).toBe(1);
  });

  it('the same key with different parameters is refused', async () => {
    const k = key('authorize');
    await authorize('pm_card_visa', 1000, k);
    await expect(authorize('pm_card_visa', 2000, k)).rejects.toMatchObject({ name: 'PaymentRequestError', code: 'idempotency_key_reused' });
    await expect(gateway.capture({ idempotencyKey: k, paymentIntentId: 'pi_x' })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(await gatewayIntentCount({ db }, k)).toBe(1);
  });

  it('a concurrent repeated capture captures once', async () => {
    const hold = await authorize('pm_card_visa', 3000);
    const k = key('capture');
    const results = await Promise.all(Array.from({ length: 10 }, () => gateway.capture({ idempotencyKey: k, paymentIntentId: hold.id })));
    expect(results.every((r) => r.status === 'succeeded' && r.capturedCents === 3000)).toBe(true);
  });
});

describe('SimulatedGateway: capture, void and refund rules', () => {
  it('capture after void fails with PaymentStateError', async () => {
    const hold = await authorize('pm_card_visa');
    expect((await gateway.cancel({ idempotencyKey: key('cancel'), paymentIntentId: hold.id })).status).toBe('canceled');
    const attempt = gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id });
    await expect(attempt).rejects.toBeInstanceOf(PaymentStateError);
    await expect(gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id })).rejects.toMatchObject({
      paymentIntentId: hold.id,
      currentStatus: 'canceled',
      message: expect.stringMatching(/status of canceled/),
    });
    expect((await gateway.retrieve(hold.id)).capturedCents).toBe(0);
  });

  it('voiding twice is harmless; voiding a captured payment is a state error', async () => {
    const hold = await authorize('pm_card_visa');
    await gateway.cancel({ idempotencyKey: key('cancel'), paymentIntentId: hold.id });
    expect((await gateway.cancel({ idempotencyKey: key('cancel'), paymentIntentId: hold.id })).status).toBe('canceled');

    const other = await authorize('pm_card_visa');
    await gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: other.id });
    await expect(gateway.cancel({ idempotencyKey: key('cancel'), paymentIntentId: other.id })).rejects.toMatchObject({
      name: 'PaymentStateError',
      currentStatus: 'succeeded',
    });
  });

  it('captures part of a hold, never more than authorized', async () => {
    const hold = await authorize('pm_card_visa', 1000);
    await expect(gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id, amountCents: 1001 })).rejects.toMatchObject({
      code: 'amount_too_large',
    });
    expect(await gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id, amountCents: 600 })).toMatchObject({
      status: 'succeeded',
      capturedCents: 600,
    });
  });

  it('refunds never exceed what was captured', async () => {
    const hold = await authorize('pm_card_visa', 1000);
    await expect(gateway.refund({ idempotencyKey: key('refund'), paymentIntentId: hold.id })).rejects.toBeInstanceOf(PaymentStateError);
    await gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id, amountCents: 600 });

    const r1 = await gateway.refund({ idempotencyKey: key('refund'), paymentIntentId: hold.id, amountCents: 400 });
    expect(r1).toMatchObject({ paymentIntentId: hold.id, amountCents: 400, status: 'succeeded' });
    expect(r1.id).toMatch(/^re_[A-Za-z0-9]{24}$/);
    await expect(gateway.refund({ idempotencyKey: key('refund'), paymentIntentId: hold.id, amountCents: 201 })).rejects.toMatchObject({
      name: 'PaymentRequestError',
      code: 'amount_too_large',
    });
    // Without an amount: whatever is left.
    expect((await gateway.refund({ idempotencyKey: key('refund'), paymentIntentId: hold.id })).amountCents).toBe(200);
    await expect(gateway.refund({ idempotencyKey: key('refund'), paymentIntentId: hold.id, amountCents: 1 })).rejects.toMatchObject({
      code: 'charge_already_refunded',
    });
    expect(await gateway.retrieve(hold.id)).toMatchObject({ capturedCents: 600, refundedCents: 600 });
  });

  it('racing refunds under different keys never exceed the captured amount', async () => {
    const hold = await authorize('pm_card_visa', 1000);
    await gateway.capture({ idempotencyKey: key('capture'), paymentIntentId: hold.id });
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => gateway.refund({ idempotencyKey: key(`refund-${i}`), paymentIntentId: hold.id, amountCents: 300 })),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(3);
    const [{ total }] = (await db('sim_refunds').where({ payment_intent_id: hold.id }).sum('amount_cents as total')) as [{ total: string }];
    expect(Number(total)).toBe(900);
    expect((await gateway.retrieve(hold.id)).refundedCents).toBe(900);
  });

  it('a repeated refund key refunds once', async () => {
    const setup = await savedCustomer();
    const charge = await gateway.chargeOffSession({
      idempotencyKey: key('charge'),
      amountCents: 800,
      currency: 'usd',
      customerId: setup.customerId,
      paymentMethod: setup.paymentMethod,
    });
    const k = key('refund');
    const results = await Promise.all(Array.from({ length: 5 }, () => gateway.refund({ idempotencyKey: k, paymentIntentId: charge.id, amountCents: 500 })));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await gateway.retrieve(charge.id)).refundedCents).toBe(500);
  });

  it('retrieve of an unknown id is a request error', async () => {
    await expect(gateway.retrieve('pi_doesnotexist')).rejects.toMatchObject({ code: 'resource_missing' });
  });
});
