import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/api/deps';
import { BOOKING_WORKFLOW, bookingWorkflowId, type BookingWorkflowInput } from '../../src/bookings/contract';
import { createPaymentService } from '../../src/payments/paymentService';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { makeProvider, makeService, type ServiceSpec, type TestProvider, type TestService } from './fixtures';

/**
 * Confirmed bookings written straight to the database, as POST /v1/bookings leaves them (row confirmed, payment
 * made through the payment service under the booking's key, a `confirmed` history line), at any start — also in
 * the past or a few seconds ahead, which no listed slot is — so the lifecycle's timers run in seconds. With
 * `workflow`, `booking:<id>` is started as the booking request starts it; it finds the row booked and runs the
 * lifecycle.
 */

export interface BookingSpec {
  /** Start relative to now (negative: already started). Default in 48 hours. */
  startsInMs?: number;
  /** Default one hour. */
  durationMs?: number;
  /** authorize (the price held, as within BOOKING_AUTHORIZATION_WINDOW) or setup (card saved). Default authorize. */
  mode?: 'authorize' | 'setup';
  paymentMethod?: string;
  customer?: TestUser;
  /** Start booking:<id> on the context's task queue. */
  workflow?: boolean;
  /** confirmed unless told (completed rows need their money settled: use the routes for those). */
  status?: 'confirmed' | 'held';
}

export interface TestBooking {
  id: string;
  customer: TestUser;
  priceCents: number;
  paymentKey: string;
  startsAt: Date;
  endsAt: Date;
}

export interface Scene {
  provider: TestProvider;
  service: TestService;
}

/** A fresh provider (so its calendar is free) with one service. */
export async function makeScene(deps: AppDeps, service: ServiceSpec = {}): Promise<Scene> {
  const provider = await makeProvider(deps);
  return { provider, service: await makeService(deps, provider, service) };
}

export async function makeBooking(deps: AppDeps, scene: Scene, spec: BookingSpec = {}): Promise<TestBooking> {
  const id = randomUUID();
  const customer = spec.customer ?? (await makeUser(deps));
  const startsAt = new Date(Date.now() + (spec.startsInMs ?? 48 * 3_600_000));
  const endsAt = new Date(startsAt.getTime() + (spec.durationMs ?? 3_600_000));
  const service = (await deps.db('services').where({ id: scene.service.id }).first()) as Record<string, unknown>;
  const priceCents = Number(service.base_price_cents);
  const mode = spec.mode ?? 'authorize';
  const paymentKey = `booking:${id}:${mode}`;
  const paymentMethod = spec.paymentMethod ?? 'pm_card_visa';
  const status = spec.status ?? 'confirmed';

  await deps.db('bookings').insert({
    id,
    service_id: scene.service.id,
    provider_id: scene.provider.id,
    customer_id: customer.id,
    status,
    starts_at: startsAt,
    ends_at: endsAt,
    buffer_minutes: 0,
    blocked: deps.db.raw(`tstzrange(?::timestamptz, ?::timestamptz, '[)')`, [startsAt, endsAt]),
    hold_expires_at: status === 'held' ? new Date(Date.now() + 3_600_000) : new Date(),
    price_cents: priceCents,
    currency: service.currency,
    quote: JSON.stringify({ fixture: true }),
    policy: JSON.stringify({ free_until_hours: service.free_until_hours, late_fee_percent: service.late_fee_percent, no_show_fee_percent: service.no_show_fee_percent }),
    payment_method: paymentMethod,
    payment_key: status === 'confirmed' ? paymentKey : null,
    confirmed_at: status === 'confirmed' ? new Date() : null,
  });
  if (status === 'confirmed') {
    const payments = createPaymentService(deps);
    const record =
      mode === 'authorize'
        ? await payments.authorizePayment({ businessKey: paymentKey, amountCents: priceCents, currency: String(service.currency), paymentMethod, customerRef: customer.id })
        : await payments.savePaymentMethod({ businessKey: paymentKey, paymentMethod, customerRef: customer.id });
    const expected = mode === 'authorize' ? 'requires_capture' : 'succeeded';
    if (record.status !== expected) throw new Error(`fixture payment for ${paymentMethod} is ${record.status}`);
    await deps.db('booking_status_history').insert({ booking_id: id, status: 'confirmed', actor: 'customer', detail: JSON.stringify({ payment: record.kind, payment_key: paymentKey }) });
  }
  if (spec.workflow) await startBookingWorkflow(deps, { id, startsAt, endsAt }, scene);
  return { id, customer, priceCents, paymentKey, startsAt, endsAt };
}

export async function startBookingWorkflow(deps: AppDeps, b: { id: string; startsAt: Date; endsAt: Date }, scene: Scene) {
  const client = await deps.temporal.client();
  const input: BookingWorkflowInput = {
    bookingId: b.id,
    providerId: scene.provider.id,
    customerId: (await deps.db('bookings').where({ id: b.id }).first('customer_id')).customer_id,
    serviceId: scene.service.id,
    holdExpiresAt: new Date().toISOString(),
    startsAt: b.startsAt.toISOString(),
    endsAt: b.endsAt.toISOString(),
  };
  return client.workflow.start(BOOKING_WORKFLOW, { taskQueue: deps.config.TASK_QUEUE, workflowId: bookingWorkflowId(b.id), args: [input] });
}

/** The booking row's money columns and status. */
export async function bookingMoney(deps: AppDeps, id: string) {
  const r = await deps.db('bookings').where({ id }).first('status', 'fee_cents', 'refund_cents', 'captured_cents', 'cancelled_by', 'money_settled_at', 'money_error', 'payment_key');
  return { ...r, fee_cents: Number(r.fee_cents), refund_cents: Number(r.refund_cents), captured_cents: Number(r.captured_cents) };
}

/** The booking's money-movement ledger lines, by business key (the platform fee line of its charge is billing's: tests/billing). */
export async function ledgerLines(deps: AppDeps, id: string) {
  const rows = (await deps.db('ledger_transactions').where({ booking_id: id }).whereNot('kind', 'platform_fee').orderBy('id').select('kind', 'amount_cents', 'business_key')) as Array<{
    kind: string;
    amount_cents: string | number;
    business_key: string;
  }>;
  return rows.map((r) => ({ kind: r.kind, amount_cents: Number(r.amount_cents), business_key: r.business_key }));
}

/** The simulated provider's intent behind a payment key (the truth where the money is). */
export async function intentOf(deps: AppDeps, businessKey: string) {
  const p = await deps.db('payments').where({ business_key: businessKey }).first('provider_payment_id');
  const intent = await deps.db('sim_payment_intents').where({ id: p.provider_payment_id }).first('id', 'status', 'amount_cents', 'captured_cents');
  return { ...intent, amount_cents: Number(intent.amount_cents), captured_cents: Number(intent.captured_cents) };
}

/** Notifications of a type about a booking. */
export async function noticesOf(deps: AppDeps, bookingId: string, type: string) {
  return (await deps.db('notifications').where({ type }).whereRaw(`data->>'booking_id' = ?`, [bookingId]).orderBy('created_at').select('user_id', 'dedupe_key', 'data')) as Array<{
    user_id: string;
    dedupe_key: string;
    data: Record<string, unknown>;
  }>;
}
