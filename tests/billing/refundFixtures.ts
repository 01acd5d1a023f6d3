import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/api/deps';
import { recordSellerCharge } from '../../src/billing/charges';
import { recordOrderCharge } from '../../src/commerce/orderCharges';
import type { PaymentGateway, RefundInput, RefundResult } from '../../src/payments/gateway';
import { createPaymentService } from '../../src/payments/paymentService';
import type { TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { makeBooking, makeScene, type Scene } from '../bookings/lifecycleFixtures';

/**
 * Charged orders and bookings for the refund tests: an order checked out through the API (the checkout captures
 * after answering; its charge is recorded as the checkout records it, idempotently), and a booking whose
 * authorization is captured through the payment service and charged with recordSellerCharge (receipt: one line
 * whose tax on top makes the total exactly what was captured). Plus the money as the simulated gateway keeps it.
 */

const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };

export interface ChargedOrder {
  id: string;
  totalCents: number;
  paymentKey: string;
  shopper: TestUser;
}

/** Checked out, captured, charged. */
export async function chargedOrder(ctx: TestContext, storeId: string, lines: Array<[string, number]>): Promise<ChargedOrder> {
  const shopper = await makeUser(ctx.deps);
  const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
  if (cart.status !== 201) throw new Error(`cart: ${cart.status}`);
  for (const [v, n] of lines) {
    const added = await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: v, quantity: n });
    if (added.status !== 200) throw new Error(`cart item: ${added.status} ${JSON.stringify(added.body)}`);
  }
  const res = await ctx.http
    .post('/v1/checkout')
    .set('Authorization', shopper.auth)
    .set('Idempotency-Key', randomUUID())
    .send({ cart_id: cart.body.id, shipping_address: address, payment_method: 'pm_card_visa' });
  if (res.status !== 201 || res.body.status !== 'confirmed') throw new Error(`checkout: ${res.status} ${JSON.stringify(res.body)}`);
  const order = (await ctx.deps.db('orders').where({ id: res.body.id }).first('payment_key', 'total_cents')) as { payment_key: string; total_cents: string };
  await eventually(async () => (await ctx.deps.db('payments').where({ business_key: order.payment_key }).first('status'))?.status === 'succeeded', 20_000, 'the capture');
  const charged = await recordOrderCharge(ctx.deps.db, res.body.id, ctx.deps.config);
  if (charged.status !== 'recorded') throw new Error(`order charge: ${charged.status}`);
  return { id: res.body.id, totalCents: Number(order.total_cents), paymentKey: order.payment_key, shopper };
}

export interface ChargedBooking {
  id: string;
  scene: Scene;
  customer: TestUser;
  paymentKey: string;
  capturedCents: number;
  taxCents: number;
}

/** A booking of `netCents` + tax at `taxRateBps` (on top), its price captured and charged to its provider. */
export async function chargedBooking(deps: AppDeps, netCents: number, taxRateBps: number, charge = true): Promise<ChargedBooking> {
  const taxCents = Math.round((netCents * taxRateBps) / 10_000);
  if ((netCents * taxRateBps) % 10_000 !== 0) throw new Error('choose a net amount whose tax is exact');
  const scene = await makeScene(deps, { basePriceCents: netCents + taxCents });
  const booking = await makeBooking(deps, scene, { startsInMs: 3_600_000 });
  if (!charge) return { id: booking.id, scene, customer: booking.customer, paymentKey: booking.paymentKey, capturedCents: 0, taxCents };
  const captured = await createPaymentService(deps).capturePayment({ businessKey: booking.paymentKey });
  if (captured.status !== 'succeeded') throw new Error(`capture: ${captured.status}`);
  await recordSellerCharge(
    deps.db,
    {
      source: { kind: 'booking', id: booking.id },
      sellerUserId: scene.provider.owner.id,
      customer: { userId: booking.customer.id },
      currency: scene.service.currency,
      capturedCents: captured.capturedCents,
      feeCents: Math.floor(captured.capturedCents / 10),
      paymentKey: booking.paymentKey,
      receiptLines: [{ description: 'Bike repair', quantity: 1, unitAmountCents: netCents, taxRateBps }],
      availableAt: 'pending',
      ledger: { provider: captured.provider, providerId: captured.providerPaymentId!, bookingId: booking.id },
    },
    deps.config,
  );
  return { id: booking.id, scene, customer: booking.customer, paymentKey: booking.paymentKey, capturedCents: captured.capturedCents, taxCents };
}

/** What the simulated gateway holds for a payment key: captured and refunded, and its refunds. */
export async function gatewayMoney(deps: AppDeps, paymentKey: string) {
  const p = (await deps.db('payments').where({ business_key: paymentKey }).first('provider_payment_id')) as { provider_payment_id: string };
  const intent = (await deps.db('sim_payment_intents').where({ id: p.provider_payment_id }).first('captured_cents', 'refunded_cents')) as Record<string, string>;
  const refunds = (await deps.db('sim_refunds').where({ payment_intent_id: p.provider_payment_id }).select('id', 'amount_cents')) as Array<{ id: string; amount_cents: string }>;
  return { captured: Number(intent.captured_cents), refunded: Number(intent.refunded_cents), refunds: refunds.map((r) => ({ id: r.id, amount: Number(r.amount_cents) })) };
}

/** The gateway with its refund call replaced (an outage, a refusal); everything else as it is. */
export function withRefund(inner: PaymentGateway, refund: (input: RefundInput, inner: PaymentGateway) => Promise<RefundResult>): PaymentGateway {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'refund') return (input: RefundInput) => refund(input, target);
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
