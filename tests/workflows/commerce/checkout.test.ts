import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  CHECKOUT_WORKFLOW,
  type CheckoutInput,
  type CheckoutWorkflow,
  RESERVATIONS_LOST,
  checkoutPaymentKey,
  checkoutWorkflowId,
} from '../../../src/commerce/contract';
import { OrderId } from '../../../src/temporal/searchAttributes';
import { type ActivityInput, type ActivityMocks, type ActivityName, type ActivityResult, pause, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * checkout:<key> — the checkout saga — with every activity mocked: the order of its steps and what each is
 * given, the compensations (newest first) when a later step fails, the business outcomes a payment refusal
 * or lost holds become, and the expiry when the order cannot be recorded while the holds last.
 */

type Payment = ActivityResult<'authorizePayment'>;

const address = { line1: '1 Test Street', city: 'Testville', postal_code: '12345', country: 'US' };

function checkoutInput(over: Partial<CheckoutInput> = {}): CheckoutInput {
  return {
    checkoutKey: randomUUID(),
    cartId: randomUUID(),
    storeId: randomUUID(),
    customerId: 'customer-1',
    items: [
      { variant_id: 'v1', quantity: 2, unit_price_cents: 1_500 },
      { variant_id: 'v2', quantity: 1, unit_price_cents: 500 },
    ],
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    shippingAddress: address,
    billingAddress: null,
    holdMs: 60_000,
    paymentStepMs: 5_000,
    ...over,
  };
}

/** A payment activity's typed refusal, as src/activities/commerce/checkoutPayments.ts throws them. */
const refusal = (type: string, message: string, details: Record<string, unknown>) => ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });

/** What the provider's record looks like to the workflow (it only cares that the call returned). */
const paymentRecord = (status: string) => ({ status }) as unknown as Payment;

/** Every step succeeding; `over` replaces some. */
function mocks(over: ActivityMocks = {}) {
  const defaults = {
    checkCheckoutPrices: jest.fn(async (_: ActivityInput<'checkCheckoutPrices'>): Promise<ActivityResult<'checkCheckoutPrices'>> => ({ changed: [] })),
    confirmCheckoutReservations: jest.fn(
      async (_: ActivityInput<'confirmCheckoutReservations'>): Promise<ActivityResult<'confirmCheckoutReservations'>> => ({ ok: true, reservationIds: ['r1', 'r2'], missing: [] }),
    ),
    authorizePayment: jest.fn(async (_: ActivityInput<'authorizePayment'>) => paymentRecord('requires_capture')),
    createCheckoutOrder: jest.fn(async (_: ActivityInput<'createCheckoutOrder'>) => ({ orderId: 'order-1', created: true })),
    commitCheckoutReservations: jest.fn(async (_: ActivityInput<'commitCheckoutReservations'>) => ({ committed: 2 })),
    capturePayment: jest.fn(async (_: ActivityInput<'capturePayment'>) => paymentRecord('succeeded')),
    emptyCheckoutCart: jest.fn(async (_: ActivityInput<'emptyCheckoutCart'>) => undefined),
    // Compensations and the expiry step.
    cancelPayment: jest.fn(async (_: ActivityInput<'cancelPayment'>) => paymentRecord('canceled')),
    cancelCheckoutOrder: jest.fn(async (_: ActivityInput<'cancelCheckoutOrder'>) => ({ cancelled: true })),
    uncommitCheckoutReservations: jest.fn(async (_: ActivityInput<'uncommitCheckoutReservations'>) => ({ restocked: 2 })),
    releaseCheckoutHolds: jest.fn(async (_: ActivityInput<'releaseCheckoutHolds'>) => ({ released: 2 })),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

const FORWARD: ActivityName[] = ['checkCheckoutPrices', 'confirmCheckoutReservations', 'authorizePayment', 'createCheckoutOrder', 'commitCheckoutReservations', 'capturePayment'];

describe('checkout workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({
      main: [
        'checkCheckoutPrices',
        'confirmCheckoutReservations',
        'createCheckoutOrder',
        'cancelCheckoutOrder',
        'commitCheckoutReservations',
        'uncommitCheckoutReservations',
        'releaseCheckoutHolds',
        'emptyCheckoutCart',
        'releaseCartReservations',
      ],
      payments: ['authorizePayment', 'capturePayment', 'cancelPayment'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: CheckoutInput, m: ActivityMocks) =>
    t.start<CheckoutWorkflow>(CHECKOUT_WORKFLOW, { workflowId: checkoutWorkflowId(input.checkoutKey), args: [input], mocks: m });

  it('sells the cart: prices, holds, authorize, order, commit, capture, then empties the cart', async () => {
    const input = checkoutInput();
    const m = mocks();
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    const id = handle.workflowId;
    expect(t.callNames(id)).toEqual([...FORWARD, 'emptyCheckoutCart']);

    const paymentKey = checkoutPaymentKey(input.checkoutKey);
    expect(m.checkCheckoutPrices).toHaveBeenCalledWith({ storeId: input.storeId, dropId: null, items: input.items });
    expect(m.confirmCheckoutReservations).toHaveBeenCalledWith({ cartId: input.cartId, storeId: input.storeId, items: input.items, holdMs: 60_000 });
    expect(m.authorizePayment).toHaveBeenCalledWith({
      businessKey: paymentKey,
      amountCents: 3_500,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      customerRef: 'customer-1',
      description: `Order at store ${input.storeId}`,
      metadata: { checkout_key: input.checkoutKey, cart_id: input.cartId, store_id: input.storeId },
    });
    expect(m.createCheckoutOrder).toHaveBeenCalledWith({
      checkoutKey: input.checkoutKey,
      cartId: input.cartId,
      storeId: input.storeId,
      customerId: 'customer-1',
      currency: 'USD',
      items: input.items,
      shippingAddress: address,
      billingAddress: null,
      paymentKey,
      reservationIds: ['r1', 'r2'],
    });
    expect(m.commitCheckoutReservations).toHaveBeenCalledWith({
      storeId: input.storeId,
      reservationIds: ['r1', 'r2'],
      quantities: [2, 1],
      dropId: null,
      checkoutKey: input.checkoutKey,
    });
    expect(m.capturePayment).toHaveBeenCalledWith({ businessKey: paymentKey });
    expect(m.emptyCheckoutCart).toHaveBeenCalledWith({ cartId: input.cartId, variantIds: ['v1', 'v2'] });
    // Nothing was compensated.
    for (const c of [m.cancelPayment, m.cancelCheckoutOrder, m.uncommitCheckoutReservations, m.releaseCheckoutHolds]) expect(c).not.toHaveBeenCalled();

    // Payment steps on the payments queue, with PAYMENT_STEP_TIMEOUT; the order only while the holds last.
    for (const name of ['authorizePayment', 'capturePayment'] as const) {
      expect(t.call(id, name)).toMatchObject({ taskQueue: t.paymentsTaskQueue, startToCloseTimeoutMs: 5_000 });
    }
    const order = t.call(id, 'createCheckoutOrder');
    expect(order.taskQueue).toBe(t.taskQueue);
    expect(order.scheduleToCloseTimeoutMs).toBeGreaterThan(50_000);
    expect(order.scheduleToCloseTimeoutMs).toBeLessThanOrEqual(60_000);
    expect((await handle.describe()).typedSearchAttributes.get(OrderId)).toBe('order-1');

  });

  it('a changed price stops it before anything is held or charged', async () => {
    const input = checkoutInput({ dropId: 'drop-1' });
    const changed = [{ variant_id: 'v2', cart_unit_price_cents: 500, current_unit_price_cents: 700 }];
    const m = mocks({ checkCheckoutPrices: async () => ({ changed }) });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'price_changed', items: changed });
    expect(t.callNames(handle.workflowId)).toEqual(['checkCheckoutPrices']);
    expect(t.call(handle.workflowId, 'checkCheckoutPrices').input).toEqual({ storeId: input.storeId, dropId: 'drop-1', items: input.items });
  });

  it('holds no longer there stop it before the payment: insufficient_stock with what is missing', async () => {
    const input = checkoutInput();
    const missing = [{ variant_id: 'v1', requested: 2, held: 1 }];
    const handle = await start(input, mocks({ confirmCheckoutReservations: async () => ({ ok: false, reservationIds: [], missing }) }));

    await expect(handle.result()).resolves.toEqual({ status: 'insufficient_stock', items: missing });
    expect(t.callNames(handle.workflowId)).toEqual(['checkCheckoutPrices', 'confirmCheckoutReservations']);
  });

  it('a declined card voids the payment and keeps the holds (payment_declined with the decline code)', async () => {
    const input = checkoutInput();
    const m = mocks({
      authorizePayment: async () => {
        throw refusal('PaymentDeclined', 'Your card has insufficient funds.', { status: 'failed', failureCode: 'card_declined', declineCode: 'insufficient_funds' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'payment_failed', code: 'payment_declined', declineCode: 'insufficient_funds', clientSecret: null });
    expect(t.callNames(handle.workflowId)).toEqual(['checkCheckoutPrices', 'confirmCheckoutReservations', 'authorizePayment', 'cancelPayment']);
    expect(m.cancelPayment).toHaveBeenCalledWith({ businessKey: checkoutPaymentKey(input.checkoutKey) });
    expect(m.releaseCheckoutHolds).not.toHaveBeenCalled();
    expect(m.emptyCheckoutCart).not.toHaveBeenCalled();
  });

  it('a card that needs authentication answers requires_action with the client secret', async () => {
    const input = checkoutInput();
    const m = mocks({
      authorizePayment: async () => {
        throw refusal('PaymentActionRequired', 'The customer must authenticate this payment.', { status: 'requires_action', clientSecret: 'pi_123_secret_456' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'payment_failed', code: 'requires_action', declineCode: null, clientSecret: 'pi_123_secret_456' });
    expect(t.callNames(handle.workflowId)).toEqual(['checkCheckoutPrices', 'confirmCheckoutReservations', 'authorizePayment', 'cancelPayment']);
  });

  it('a payment method the provider rejects outright is the shopper’s answer (payment_method_rejected)', async () => {
    const input = checkoutInput();
    const m = mocks({
      authorizePayment: async () => {
        throw refusal('PaymentRequestError', 'No such PaymentMethod: pm_bogus', { code: 'resource_missing' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({
      status: 'payment_failed',
      code: 'payment_method_rejected',
      declineCode: 'resource_missing',
      clientSecret: null,
      message: 'No such PaymentMethod: pm_bogus',
    });
    expect(t.callNames(handle.workflowId)).toEqual(['checkCheckoutPrices', 'confirmCheckoutReservations', 'authorizePayment', 'cancelPayment']);
  });

  it('holds lost at the commit: restock, cancel the order, void the payment (newest first), then insufficient_stock', async () => {
    const input = checkoutInput({ dropId: 'drop-7' });
    const m = mocks({
      commitCheckoutReservations: async () => {
        throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: 'holds gone', nonRetryable: true, details: [{ held: [1, 1] }] });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'insufficient_stock', items: [{ variant_id: 'v1', requested: 2, held: 1 }] });
    expect(t.callNames(handle.workflowId)).toEqual([
      ...FORWARD.slice(0, 5),
      'uncommitCheckoutReservations',
      'cancelCheckoutOrder',
      'cancelPayment',
    ]);
    expect(m.uncommitCheckoutReservations).toHaveBeenCalledWith({ storeId: input.storeId, reservationIds: ['r1', 'r2'], dropId: 'drop-7', checkoutKey: input.checkoutKey });
    expect(m.cancelCheckoutOrder).toHaveBeenCalledWith({ checkoutKey: input.checkoutKey, reason: 'checkout failed' });
    expect(t.call(handle.workflowId, 'commitCheckoutReservations').input).toMatchObject({ dropId: 'drop-7' });
  });

  it('holds lost without details report every line as no longer held', async () => {
    const input = checkoutInput();
    const m = mocks({
      commitCheckoutReservations: async () => {
        throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: 'holds gone', nonRetryable: true });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({
      status: 'insufficient_stock',
      items: [
        { variant_id: 'v1', requested: 2, held: 0 },
        { variant_id: 'v2', requested: 1, held: 0 },
      ],
    });
  });

  it('a capture the provider refuses undoes everything, empties the cart and answers payment_not_captured', async () => {
    const input = checkoutInput();
    const m = mocks({
      capturePayment: async () => {
        throw refusal('PaymentStateError', 'This PaymentIntent could not be captured because it has a status of canceled.', { status: 'canceled' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({
      status: 'payment_failed',
      code: 'payment_not_captured',
      declineCode: 'canceled',
      clientSecret: null,
      message: 'This PaymentIntent could not be captured because it has a status of canceled.',
    });
    expect(t.callNames(handle.workflowId)).toEqual([...FORWARD, 'uncommitCheckoutReservations', 'cancelCheckoutOrder', 'cancelPayment', 'emptyCheckoutCart']);
    expect(m.emptyCheckoutCart).toHaveBeenCalledWith({ cartId: input.cartId, variantIds: ['v1', 'v2'] });
  });

  it('an unexpected failure compensates (a failing compensation does not stop the next) and fails the workflow', async () => {
    const input = checkoutInput();
    const m = mocks({
      createCheckoutOrder: async () => {
        throw ApplicationFailure.nonRetryable('null value in column "currency"', 'DatabaseError');
      },
      cancelCheckoutOrder: async () => {
        throw ApplicationFailure.nonRetryable('no such order', 'OrderMissing');
      },
    });
    const handle = await start(input, m);

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect((cause as ActivityFailure).cause).toMatchObject({ type: 'DatabaseError' });
    expect(t.callNames(handle.workflowId)).toEqual([...FORWARD.slice(0, 4), 'cancelCheckoutOrder', 'cancelPayment']);
    expect(m.releaseCheckoutHolds).not.toHaveBeenCalled();
  });

  it('a refusal after the authorization that is not the capture is a bug: compensated, then the workflow fails', async () => {
    const input = checkoutInput();
    const m = mocks({
      commitCheckoutReservations: async () => {
        throw refusal('PaymentRequestError', 'unexpected', { code: 'weird' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(t.callNames(handle.workflowId)).toEqual([...FORWARD.slice(0, 5), 'uncommitCheckoutReservations', 'cancelCheckoutOrder', 'cancelPayment']);
    expect(m.emptyCheckoutCart).not.toHaveBeenCalled();
  });

  it('an order not recorded while the holds last expires: holds released first, then the order cancelled and the payment voided', async () => {
    // The holds last 100 ms; the order step may run at most a second (its floor) and never answers in time.
    const input = checkoutInput({ holdMs: 100 });
    const m = mocks({
      createCheckoutOrder: async () => {
        await pause(1_500);
        return { orderId: 'too-late', created: true };
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'expired' });
    expect(t.callNames(handle.workflowId)).toEqual([...FORWARD.slice(0, 4), 'releaseCheckoutHolds', 'cancelCheckoutOrder', 'cancelPayment']);
    expect(m.releaseCheckoutHolds).toHaveBeenCalledWith({ cartId: input.cartId });
    expect(t.call(handle.workflowId, 'createCheckoutOrder').scheduleToCloseTimeoutMs).toBe(1_000);
    expect(m.commitCheckoutReservations).not.toHaveBeenCalled();
    expect(m.capturePayment).not.toHaveBeenCalled();
  });
});
