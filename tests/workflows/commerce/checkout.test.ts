import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  CHECKOUT_FAILED,
  CHECKOUT_WORKFLOW,
  type CheckoutInput,
  type CheckoutWorkflow,
  HOLDS_RAN_OUT,
  RESERVATIONS_LOST,
  checkoutAnswerUpdate,
  checkoutAnswerUpdateId,
  checkoutPaymentKey,
  checkoutWorkflowId,
} from '../../../src/commerce/contract';
import { OrderId } from '../../../src/temporal/searchAttributes';
import {
  type ActivityInput,
  type ActivityMocks,
  type ActivityName,
  type ActivityResult,
  deferred,
  historyEventTypes,
  pause,
  startWorkflowEnv,
  type WorkflowTestEnv,
} from '../../helpers/workflowEnv';

/**
 * checkout:<key> — the checkout saga — with every activity mocked: the order of its steps and what each is
 * given (database steps as local activities, payment steps on the payments queue), the shopper's answer (the
 * `answer` Update) given once the order is placed and before the capture, the compensations (newest first) when
 * a later step fails, the business outcomes a payment refusal or lost holds become, and the expiry when the
 * order cannot be placed while the holds last.
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
    confirmCheckout: jest.fn(
      async (_: ActivityInput<'confirmCheckout'>): Promise<ActivityResult<'confirmCheckout'>> => ({ status: 'held', reservationIds: ['r1', 'r2'] }),
    ),
    authorizePayment: jest.fn(async (_: ActivityInput<'authorizePayment'>) => paymentRecord('requires_capture')),
    placeCheckoutOrder: jest.fn(async (_: ActivityInput<'placeCheckoutOrder'>) => ({ orderId: 'order-1', created: true })),
    emptyCheckoutCart: jest.fn(async (_: ActivityInput<'emptyCheckoutCart'>) => undefined),
    capturePayment: jest.fn(async (_: ActivityInput<'capturePayment'>) => paymentRecord('succeeded')),
    recordOrderCharge: jest.fn(
      async (_: ActivityInput<'recordOrderCharge'>): Promise<ActivityResult<'recordOrderCharge'>> => ({ status: 'recorded', chargeId: 'charge-1', invoiceId: 'invoice-1', created: true }),
    ),
    // Compensations and the expiry step.
    cancelPayment: jest.fn(async (_: ActivityInput<'cancelPayment'>) => paymentRecord('canceled')),
    cancelPlacedOrder: jest.fn(async (_: ActivityInput<'cancelPlacedOrder'>) => ({ cancelled: true })),
    releaseCheckoutHolds: jest.fn(async (_: ActivityInput<'releaseCheckoutHolds'>) => ({ released: 2 })),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

const FORWARD: ActivityName[] = ['confirmCheckout', 'authorizePayment', 'placeCheckoutOrder', 'emptyCheckoutCart', 'capturePayment', 'recordOrderCharge'];
/** Up to the capture: what runs before the saga can still be undone. */
const THROUGH_CAPTURE = FORWARD.slice(0, 5);
/** The database and Redis steps: local activities, never scheduled through the server. */
const LOCAL: ActivityName[] = ['confirmCheckout', 'placeCheckoutOrder', 'emptyCheckoutCart', 'cancelPlacedOrder', 'releaseCheckoutHolds', 'recordOrderCharge'];

describe('checkout workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({
      main: LOCAL,
      payments: ['authorizePayment', 'capturePayment', 'cancelPayment'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: CheckoutInput, m: ActivityMocks) =>
    t.start<CheckoutWorkflow>(CHECKOUT_WORKFLOW, { workflowId: checkoutWorkflowId(input.checkoutKey), args: [input], mocks: m });

  /** The shopper's answer as the API asks for it: Update-with-Start of `answer` for the input's cart. */
  function answerOf(input: CheckoutInput, m: ActivityMocks, cartId = input.cartId) {
    const workflowId = checkoutWorkflowId(input.checkoutKey);
    t.mock(workflowId, m);
    const startWorkflowOperation = new WithStartWorkflowOperation<CheckoutWorkflow>(CHECKOUT_WORKFLOW, {
      workflowId,
      taskQueue: t.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const answer = t.client.workflow.executeUpdateWithStart(checkoutAnswerUpdate, { args: [{ cartId }], updateId: checkoutAnswerUpdateId(cartId), startWorkflowOperation });
    return { answer, handle: () => startWorkflowOperation.workflowHandle() };
  }

  it('sells the cart: prices and holds, authorize, order placed, cart emptied, capture', async () => {
    const input = checkoutInput();
    const m = mocks();
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    const id = handle.workflowId;
    expect(t.callNames(id)).toEqual(FORWARD);

    const paymentKey = checkoutPaymentKey(input.checkoutKey);
    expect(m.confirmCheckout).toHaveBeenCalledWith({ cartId: input.cartId, storeId: input.storeId, dropId: null, items: input.items, holdMs: 60_000 });
    expect(m.authorizePayment).toHaveBeenCalledWith({
      businessKey: paymentKey,
      amountCents: 3_500,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      customerRef: 'customer-1',
      description: `Order at store ${input.storeId}`,
      metadata: { checkout_key: input.checkoutKey, cart_id: input.cartId, store_id: input.storeId },
    });
    expect(m.placeCheckoutOrder).toHaveBeenCalledWith({
      checkoutKey: input.checkoutKey,
      cartId: input.cartId,
      storeId: input.storeId,
      customerId: 'customer-1',
      customerEmail: null,
      currency: 'USD',
      items: input.items,
      taxRateBps: 0,
      shippingAddress: address,
      billingAddress: null,
      paymentKey,
      reservationIds: ['r1', 'r2'],
      dropId: null,
      holdsEndAt: expect.any(Number),
    });
    expect(m.capturePayment).toHaveBeenCalledWith({ businessKey: paymentKey });
    expect(m.recordOrderCharge).toHaveBeenCalledWith({ orderId: 'order-1' });
    expect(m.emptyCheckoutCart).toHaveBeenCalledWith({ cartId: input.cartId, variantIds: ['v1', 'v2'] });
    // Nothing was compensated.
    for (const c of [m.cancelPayment, m.cancelPlacedOrder, m.releaseCheckoutHolds]) expect(c).not.toHaveBeenCalled();

    // Payment steps on the payments queue, with PAYMENT_STEP_TIMEOUT; the order only while the holds last (holdMs
    // from their confirmation, in workflow time).
    for (const name of ['authorizePayment', 'capturePayment'] as const) {
      expect(t.call(id, name)).toMatchObject({ taskQueue: t.paymentsTaskQueue, startToCloseTimeoutMs: 5_000 });
    }
    const order = t.call(id, 'placeCheckoutOrder');
    expect(order.taskQueue).toBe(t.taskQueue);
    const holdsEndAt = (order.input as { holdsEndAt: number }).holdsEndAt;
    expect(holdsEndAt).toBeGreaterThan(t.call(id, 'confirmCheckout').at + 50_000);
    expect(holdsEndAt).toBeLessThanOrEqual(order.at + 60_000);
    expect((await handle.describe()).typedSearchAttributes.get(OrderId)).toBe('order-1');

    // Only the payment steps went through the server as activity tasks; the database steps are local (markers).
    const events = await historyEventTypes(t.client, id);
    expect(events.filter((e) => e === 'ACTIVITY_TASK_SCHEDULED')).toHaveLength(2);
    expect(events.filter((e) => e === 'MARKER_RECORDED')).toHaveLength(4);
  });

  it('answers the shopper confirmed once the order is placed, before the capture; a retry gets the same answer', async () => {
    const input = checkoutInput();
    const capture = deferred();
    const captureStarted = deferred();
    const m = mocks({
      capturePayment: async () => {
        captureStarted.resolve();
        await capture.promise;
        return paymentRecord('succeeded');
      },
    });
    const first = answerOf(input, m);

    // Answered while the capture cannot have finished (it waits for this test); the cart was emptied before.
    await expect(first.answer).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    const id = checkoutWorkflowId(input.checkoutKey);
    expect(t.callNames(id).slice(0, 4)).toEqual(FORWARD.slice(0, 4));
    await captureStarted.promise;
    expect((await (await first.handle()).describe()).status.name).toBe('RUNNING');

    // The same request again (same key, same cart) attaches to the running saga and gets the same answer.
    await expect(answerOf(input, m).answer).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    capture.resolve();
    await expect((await first.handle()).result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    expect(t.callNames(id)).toEqual(FORWARD);
  });

  it('refuses an answer for another cart under the same key (validator), without touching the saga', async () => {
    const input = checkoutInput();
    const authorize = deferred();
    const m = mocks({
      authorizePayment: async () => {
        await authorize.promise;
        return paymentRecord('requires_capture');
      },
    });
    const first = answerOf(input, m);

    const other = await answerOf(input, m, randomUUID()).answer.catch((e: unknown) => e);
    expect(other).toBeInstanceOf(WorkflowUpdateFailedError);
    const handle = t.client.workflow.getHandle<CheckoutWorkflow>(checkoutWorkflowId(input.checkoutKey));
    const nonsense = await handle.executeUpdate(checkoutAnswerUpdate, { args: [{ cartId: 42 } as never] }).catch((e: unknown) => e);
    expect(nonsense).toBeInstanceOf(WorkflowUpdateFailedError);

    authorize.resolve();
    await expect(first.answer).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    await expect(handle.result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    // The refused ones left no trace: only the first request's Update was accepted.
    expect((await historyEventTypes(t.client, handle.workflowId)).filter((e) => e === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED')).toHaveLength(1);
  });

  it('a changed price stops it before anything is held or charged (and is the answer)', async () => {
    const input = checkoutInput({ dropId: 'drop-1' });
    const changed = [{ variant_id: 'v2', cart_unit_price_cents: 500, current_unit_price_cents: 700 }];
    const m = mocks({ confirmCheckout: async () => ({ status: 'price_changed', items: changed }) });
    const { answer, handle } = answerOf(input, m);

    await expect(answer).resolves.toEqual({ status: 'price_changed', items: changed });
    await expect((await handle()).result()).resolves.toEqual({ status: 'price_changed', items: changed });
    const id = checkoutWorkflowId(input.checkoutKey);
    expect(t.callNames(id)).toEqual(['confirmCheckout']);
    expect(t.call(id, 'confirmCheckout').input).toEqual({ cartId: input.cartId, storeId: input.storeId, dropId: 'drop-1', items: input.items, holdMs: 60_000 });
  });

  it('holds no longer there stop it before the payment: insufficient_stock with what is missing', async () => {
    const input = checkoutInput();
    const missing = [{ variant_id: 'v1', requested: 2, held: 1 }];
    const handle = await start(input, mocks({ confirmCheckout: async () => ({ status: 'insufficient_stock', items: missing }) }));

    await expect(handle.result()).resolves.toEqual({ status: 'insufficient_stock', items: missing });
    expect(t.callNames(handle.workflowId)).toEqual(['confirmCheckout']);
  });

  it('a declined card voids the payment and keeps the holds (payment_declined with the decline code)', async () => {
    const input = checkoutInput();
    const m = mocks({
      authorizePayment: async () => {
        throw refusal('PaymentDeclined', 'Your card has insufficient funds.', { status: 'failed', failureCode: 'card_declined', declineCode: 'insufficient_funds' });
      },
    });
    const { answer, handle } = answerOf(input, m);

    const declined = { status: 'payment_failed', code: 'payment_declined', declineCode: 'insufficient_funds', clientSecret: null };
    await expect(answer).resolves.toEqual(declined);
    await expect((await handle()).result()).resolves.toEqual(declined);
    expect(t.callNames(checkoutWorkflowId(input.checkoutKey))).toEqual(['confirmCheckout', 'authorizePayment', 'cancelPayment']);
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
    expect(t.callNames(handle.workflowId)).toEqual(['confirmCheckout', 'authorizePayment', 'cancelPayment']);
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
    expect(t.callNames(handle.workflowId)).toEqual(['confirmCheckout', 'authorizePayment', 'cancelPayment']);
  });

  it('holds lost when the order is placed: the order cancelled (stock back), the payment voided (newest first), then insufficient_stock; the cart keeps its lines', async () => {
    const input = checkoutInput({ dropId: 'drop-7' });
    const m = mocks({
      placeCheckoutOrder: async () => {
        throw ApplicationFailure.create({ type: RESERVATIONS_LOST, message: 'holds gone', nonRetryable: true, details: [{ held: [1, 1] }] });
      },
    });
    const { answer, handle } = answerOf(input, m);

    await expect(answer).resolves.toEqual({ status: 'insufficient_stock', items: [{ variant_id: 'v1', requested: 2, held: 1 }] });
    await (await handle()).result();
    const id = checkoutWorkflowId(input.checkoutKey);
    expect(t.callNames(id)).toEqual([...FORWARD.slice(0, 3), 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.cancelPlacedOrder).toHaveBeenCalledWith({ checkoutKey: input.checkoutKey, storeId: input.storeId, reservationIds: ['r1', 'r2'], dropId: 'drop-7', reason: 'checkout failed' });
    expect(t.call(id, 'placeCheckoutOrder').input).toMatchObject({ dropId: 'drop-7' });
    expect(m.emptyCheckoutCart).not.toHaveBeenCalled();
  });

  it('holds lost without details report every line as no longer held', async () => {
    const input = checkoutInput();
    const m = mocks({
      placeCheckoutOrder: async () => {
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

  it('a capture the provider refuses after the confirmed answer undoes everything: the saga ends payment_not_captured', async () => {
    const input = checkoutInput();
    const m = mocks({
      capturePayment: async () => {
        throw refusal('PaymentStateError', 'This PaymentIntent could not be captured because it has a status of canceled.', { status: 'canceled' });
      },
    });
    const { answer, handle } = answerOf(input, m);

    // The shopper was answered when the order was placed; the order is cancelled afterwards.
    await expect(answer).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    await expect((await handle()).result()).resolves.toEqual({
      status: 'payment_failed',
      code: 'payment_not_captured',
      declineCode: 'canceled',
      clientSecret: null,
      message: 'This PaymentIntent could not be captured because it has a status of canceled.',
    });
    const id = checkoutWorkflowId(input.checkoutKey);
    expect(t.callNames(id)).toEqual([...THROUGH_CAPTURE, 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.emptyCheckoutCart).toHaveBeenCalledWith({ cartId: input.cartId, variantIds: ['v1', 'v2'] });
  });

  it('an unexpected failure compensates (a failing compensation does not stop the next), fails the workflow and the answer', async () => {
    const input = checkoutInput();
    const m = mocks({
      placeCheckoutOrder: async () => {
        throw ApplicationFailure.nonRetryable('null value in column "currency"', 'DatabaseError');
      },
      cancelPlacedOrder: async () => {
        throw ApplicationFailure.nonRetryable('no such reservation', 'ReservationMissing');
      },
    });
    const { answer, handle } = answerOf(input, m);

    const refused = await answer.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: CHECKOUT_FAILED });
    const err = await (await handle()).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // A local activity's failure reaches the workflow as the activity's own failure.
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'DatabaseError' });
    expect(t.callNames(checkoutWorkflowId(input.checkoutKey))).toEqual([...FORWARD.slice(0, 3), 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.releaseCheckoutHolds).not.toHaveBeenCalled();
  });

  it('a refusal after the authorization that is not the capture is a bug: compensated, then the workflow fails', async () => {
    const input = checkoutInput();
    const m = mocks({
      placeCheckoutOrder: async () => {
        throw refusal('PaymentRequestError', 'unexpected', { code: 'weird' });
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(t.callNames(handle.workflowId)).toEqual([...FORWARD.slice(0, 3), 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.emptyCheckoutCart).not.toHaveBeenCalled();
  });

  it('an order not placed while the holds last expires: holds released first, then the order cancelled (stock back) and the payment voided', async () => {
    // The order step gives up at the holds' end (as placeCheckoutOrder does when its statements are cut off).
    const input = checkoutInput();
    const m = mocks({
      placeCheckoutOrder: async () => {
        throw ApplicationFailure.create({ type: HOLDS_RAN_OUT, message: 'holds ran out', nonRetryable: true });
      },
    });
    const { answer, handle } = answerOf(input, m);

    await expect(answer).resolves.toEqual({ status: 'expired' });
    await expect((await handle()).result()).resolves.toEqual({ status: 'expired' });
    const id = checkoutWorkflowId(input.checkoutKey);
    expect(t.callNames(id)).toEqual([...FORWARD.slice(0, 3), 'releaseCheckoutHolds', 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.releaseCheckoutHolds).toHaveBeenCalledWith({ cartId: input.cartId });
    expect(m.cancelPlacedOrder).toHaveBeenCalledWith({ checkoutKey: input.checkoutKey, storeId: input.storeId, reservationIds: ['r1', 'r2'], dropId: null, reason: 'checkout failed' });
    expect(m.emptyCheckoutCart).not.toHaveBeenCalled();
    expect(m.capturePayment).not.toHaveBeenCalled();
  });

  it('holds already past when the order would be placed (the workers were away): no order step, holds released, payment voided', async () => {
    // The authorization outlasts the holds (as a worker gone longer than RESERVATION_TTL would).
    const input = checkoutInput({ holdMs: 100 });
    const m = mocks({
      authorizePayment: async () => {
        await pause(500);
        return paymentRecord('requires_capture');
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'expired' });
    // The order's compensation runs too: an attempt of a worker thought gone may have placed it meanwhile.
    expect(t.callNames(handle.workflowId)).toEqual(['confirmCheckout', 'authorizePayment', 'releaseCheckoutHolds', 'cancelPlacedOrder', 'cancelPayment']);
    expect(m.placeCheckoutOrder).not.toHaveBeenCalled();
  });

  it('authorizes the order total with the tax on top: the rate the first step read, per line half-even', async () => {
    // 2 × 1 255 = 2 510 at 8.25 % = 207.075 → 207; 1 × 200 = 200 at 8.25 % = 16.5 → 16 (a tie goes to the even cent).
    const input = checkoutInput({ items: [{ variant_id: 'v1', quantity: 2, unit_price_cents: 1_255 }, { variant_id: 'v2', quantity: 1, unit_price_cents: 200 }] });
    const m = mocks({ confirmCheckout: async () => ({ status: 'held', reservationIds: ['r1', 'r2'], taxRateBps: 825 }) });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    expect(m.authorizePayment).toHaveBeenCalledWith(expect.objectContaining({ amountCents: 2_710 + 207 + 16 }));
    expect(m.placeCheckoutOrder).toHaveBeenCalledWith(expect.objectContaining({ taxRateBps: 825 }));
  });

  it('a failing charge step after the capture is retried until it is done, never compensated', async () => {
    const input = checkoutInput();
    let attempts = 0;
    const m = mocks({
      recordOrderCharge: async () => {
        if (++attempts < 3) throw new Error('database unavailable');
        return { status: 'recorded', chargeId: 'charge-1', invoiceId: 'invoice-1', created: true };
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'confirmed', orderId: 'order-1' });
    expect(attempts).toBe(3);
    expect(t.callNames(handle.workflowId)).toEqual([...THROUGH_CAPTURE, 'recordOrderCharge', 'recordOrderCharge', 'recordOrderCharge']);
    for (const c of [m.cancelPayment, m.cancelPlacedOrder, m.releaseCheckoutHolds]) expect(c).not.toHaveBeenCalled();
  });
});
