import { createBookingLifecycleActivities } from '../../src/activities/bookings/bookingLifecycle';
import { createBookingPaymentActivities } from '../../src/activities/bookings/bookingPayments';
import { decideOutcome } from '../../src/bookings/bookingOutcomes';
import { bookingWorkflowId } from '../../src/bookings/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { confirmedBooking, holdSlot, localStart } from './holdHelpers';
import { bookingMoney, intentOf, ledgerLines, makeBooking, makeScene, noticesOf, startBookingWorkflow, type Scene } from './lifecycleFixtures';

/**
 * How a confirmed booking ends by request: cancellation by either side under the policy FROZEN at booking (fee and
 * refund), the provider's completion and no-show after the start, each decided exactly once even when they race,
 * and the money moved once by the booking's keys (counted on the ledger and at the simulated provider).
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

const HOUR = 3_600_000;

beforeAll(async () => {
  // Long lifecycle timers: nothing here may end by itself while a test looks.
  ctx = createTestContext(testConfig({ BOOKING_COMPLETION_GRACE: '24h', BOOKING_REMINDERS: '24h', BOOKING_AUTHORIZATION_WINDOW: '6d' }));
  worker = await startTestWorker(ctx.deps);
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

const post = (path: string, auth: string, body: object = {}) => ctx.http.post(path).set('Authorization', auth).send(body);
const cancel = (id: string, auth: string, body: object = {}) => post(`/v1/bookings/${id}/cancel`, auth, body);

it('cancelled early by the customer: nothing kept, the authorization voided, both sides told', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 50 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 48 * HOUR });

  const res = await cancel(b.id, b.customer.auth, { reason: 'plans changed' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: b.id, status: 'cancelled', refund_cents: 8_000, fee_cents: 0, captured_cents: 0, cancelled_by: 'customer' });
  expect(res.body.status_history.map((h: { status: string }) => h.status)).toEqual(['confirmed', 'cancelled']);
  expect(res.body.status_history[1]).toMatchObject({ actor: 'customer', detail: { reason: 'plans changed', late: false, fee_cents: 0, refund_cents: 8_000 } });

  expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'canceled', captured_cents: 0 });
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([{ kind: 'void', amount_cents: 8_000, business_key: `booking:${b.id}:void` }]);
  const told = await noticesOf(ctx.deps, b.id, 'booking_cancelled');
  expect(told.map((n) => n.user_id).sort()).toEqual([b.customer.id, scene.provider.owner.id].sort());
  expect(told[0]!.data).toMatchObject({ refund_cents: 8_000, fee_cents: 0, currency: 'EUR' });
});

it('cancelled late: the fee of the policy frozen at booking is captured, though the service has changed its policy since', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 25 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 2 * HOUR });
  // The provider relaxes the service's terms after the booking: the booking keeps the ones it was made under.
  await ctx.deps.db('services').where({ id: scene.service.id }).update({ free_until_hours: 0, late_fee_percent: 0 });

  const res = await cancel(b.id, b.customer.auth);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'cancelled', fee_cents: 2_000, refund_cents: 6_000, captured_cents: 2_000, policy: { free_until_hours: 24, late_fee_percent: 25 } });
  expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'succeeded', amount_cents: 8_000, captured_cents: 2_000 });
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([{ kind: 'capture', amount_cents: 2_000, business_key: `booking:${b.id}:capture` }]);
  expect(await bookingMoney(ctx.deps, b.id)).toMatchObject({ money_error: null, captured_cents: 2_000 });
});

it('needs no body at all (the reason is optional), but refuses a body in another format without changing anything', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 50 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 48 * HOUR });

  expectProblem(await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', b.customer.auth).set('Content-Type', 'text/plain').send('reason=later'), 400, 'validation_failed');
  expect(await ctx.deps.db('bookings').where({ id: b.id }).first('status')).toEqual({ status: 'confirmed' });

  const res = await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', b.customer.auth);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: b.id, status: 'cancelled', fee_cents: 0, refund_cents: 8_000 });
});

it('cancelled late by the provider: the customer pays nothing', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 50 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 2 * HOUR });

  const res = await cancel(b.id, scene.provider.owner.auth, { reason: 'ill' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'cancelled', fee_cents: 0, refund_cents: 8_000, cancelled_by: 'provider' });
  expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'canceled' });
});

it('charges a late fee to the saved card when the booking was cancelled before its off-session authorization', async () => {
  // Free until 10 days before: a booking 8 days ahead is late already, and its card is only saved (window 6 days).
  const scene = await makeScene(ctx.deps, { basePriceCents: 6_000, freeUntilHours: 240, lateFeePercent: 50 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 8 * 24 * HOUR, mode: 'setup' });

  const res = await cancel(b.id, b.customer.auth);
  expect(res.body).toMatchObject({ status: 'cancelled', fee_cents: 3_000, refund_cents: 3_000, captured_cents: 3_000 });
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([{ kind: 'charge', amount_cents: 3_000, business_key: `booking:${b.id}:charge` }]);
  expect(await intentOf(ctx.deps, `booking:${b.id}:charge`)).toMatchObject({ status: 'succeeded', captured_cents: 3_000 });
});

it('refuses a second cancellation with the current status, and moves no money again', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await makeBooking(ctx.deps, scene);
  expect((await cancel(b.id, b.customer.auth)).status).toBe(200);

  const again = await cancel(b.id, scene.provider.owner.auth);
  expectProblem(again, 409, 'booking_not_cancellable');
  expect(again.body.current_status).toBe('cancelled');
  expect(await ledgerLines(ctx.deps, b.id)).toHaveLength(1);
});

it('completes after the start only, by the provider: the price captured and counted for the provider', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 5_000 });
  const future = await makeBooking(ctx.deps, scene, { startsInMs: HOUR });
  expectProblem(await post(`/v1/bookings/${future.id}/complete`, scene.provider.owner.auth), 422, 'booking_not_started');
  expectProblem(await post(`/v1/bookings/${future.id}/no-show`, scene.provider.owner.auth), 422, 'booking_not_started');
  expect((await bookingMoney(ctx.deps, future.id)).status).toBe('confirmed');

  const started = await makeBooking(ctx.deps, scene, { startsInMs: -10 * 60_000, durationMs: HOUR / 2 });
  expectProblem(await post(`/v1/bookings/${started.id}/complete`, started.customer.auth), 403, 'forbidden');
  const stranger = await makeUser(ctx.deps, { role: 'provider' });
  expectProblem(await post(`/v1/bookings/${started.id}/complete`, stranger.auth), 404, 'not_found');

  const done = await post(`/v1/bookings/${started.id}/complete`, scene.provider.owner.auth);
  expect(done.status).toBe(200);
  expect(done.body).toMatchObject({ status: 'completed', captured_cents: 5_000, fee_cents: 0, refund_cents: 0 });
  expect(await intentOf(ctx.deps, started.paymentKey)).toMatchObject({ status: 'succeeded', captured_cents: 5_000 });
  expect(await ledgerLines(ctx.deps, started.id)).toEqual([{ kind: 'capture', amount_cents: 5_000, business_key: `booking:${started.id}:capture` }]);
  expect(await ctx.deps.db('providers').where({ id: scene.provider.id }).first('completed_count')).toEqual({ completed_count: 1 });
  expect(await noticesOf(ctx.deps, started.id, 'booking_feedback_requested')).toHaveLength(1);
  expectProblem(await post(`/v1/bookings/${started.id}/no-show`, scene.provider.owner.auth), 409, 'illegal_transition');
});

it('a no-show captures the no-show fee of the frozen policy and releases the rest', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 5_000, noShowFeePercent: 40 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: -5 * 60_000, durationMs: HOUR });
  await ctx.deps.db('services').where({ id: scene.service.id }).update({ no_show_fee_percent: 100 });

  const res = await post(`/v1/bookings/${b.id}/no-show`, scene.provider.owner.auth);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'no_show', fee_cents: 2_000, refund_cents: 3_000, captured_cents: 2_000 });
  expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'succeeded', amount_cents: 5_000, captured_cents: 2_000 });
  expect(await noticesOf(ctx.deps, b.id, 'booking_no_show')).toHaveLength(1);
  expect(await ctx.deps.db('providers').where({ id: scene.provider.id }).first('completed_count')).toEqual({ completed_count: 0 });
});

it('of a cancellation racing a completion exactly one wins, and its money moves once', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 4_000, freeUntilHours: 24, lateFeePercent: 50 });
  const outcomes: string[] = [];
  for (let round = 0; round < 8; round++) {
    // Started a few minutes ago: completion is allowed and a cancellation is late (fee 2,000).
    const b = await makeBooking(ctx.deps, scene, { startsInMs: -(round + 1) * HOUR - 60_000, durationMs: HOUR / 2 });
    const [c, d] = await Promise.all([cancel(b.id, b.customer.auth), post(`/v1/bookings/${b.id}/complete`, scene.provider.owner.auth)]);
    const statuses = [c.status, d.status].sort();
    expect(statuses).toEqual([200, 409]);
    const loser = c.status === 409 ? c : d;
    expect(loser.body.code).toBe(c.status === 409 ? 'booking_not_cancellable' : 'illegal_transition');

    const row = await bookingMoney(ctx.deps, b.id);
    outcomes.push(row.status);
    expect(loser.body.current_status).toBe(row.status);
    const lines = await ledgerLines(ctx.deps, b.id);
    const kept = row.status === 'completed' ? 4_000 : 2_000;
    expect(lines).toEqual([{ kind: 'capture', amount_cents: kept, business_key: `booking:${b.id}:capture` }]);
    expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'succeeded', captured_cents: kept });
    expect(row).toMatchObject({ captured_cents: kept, fee_cents: row.status === 'completed' ? 0 : 2_000 });
    const endings = await ctx.deps.db('booking_status_history').where({ booking_id: b.id }).whereIn('status', ['cancelled', 'completed']);
    expect(endings).toHaveLength(1);
    const captures = await ctx.deps.db('payment_events as e').join('payments as p', 'p.id', 'e.payment_id').where({ 'p.business_key': b.paymentKey, 'e.type': 'capture' });
    expect(captures).toHaveLength(1);
  }
  expect(await ctx.deps.db('providers').where({ id: scene.provider.id }).first('completed_count')).toEqual({ completed_count: outcomes.filter((s) => s === 'completed').length });
});

it('of a cancellation racing the automatic completion exactly one wins; the workflow’s settlement then moves its money once', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 4_000, freeUntilHours: 24, lateFeePercent: 50 });
  const lifecycle = createBookingLifecycleActivities(ctx.deps);
  const payments = createBookingPaymentActivities(ctx.deps);
  for (let round = 0; round < 6; round++) {
    const b = await makeBooking(ctx.deps, scene, { startsInMs: -(round + 2) * HOUR, durationMs: HOUR / 2 });
    const [byCustomer, bySystem] = await Promise.all([cancel(b.id, b.customer.auth), lifecycle.autoCompleteBooking({ bookingId: b.id })]);
    const row = await bookingMoney(ctx.deps, b.id);
    // The system's step reports the outcome that stands, whoever decided it.
    expect(bySystem.status).toBe(row.status);
    expect(byCustomer.status).toBe(row.status === 'cancelled' ? 200 : 409);
    await payments.settleBookingMoney({ bookingId: b.id });
    await payments.settleBookingMoney({ bookingId: b.id });
    const kept = row.status === 'completed' ? 4_000 : 2_000;
    expect(await ledgerLines(ctx.deps, b.id)).toEqual([{ kind: 'capture', amount_cents: kept, business_key: `booking:${b.id}:capture` }]);
    expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'succeeded', captured_cents: kept });
    expect(await ctx.deps.db('booking_status_history').where({ booking_id: b.id }).whereIn('status', ['cancelled', 'completed'])).toHaveLength(1);
  }
});

it('finishes the money of a cancellation that crashed after deciding: by a retry, or by the booking workflow', async () => {
  const scene: Scene = await makeScene(ctx.deps, { basePriceCents: 3_000 });

  // Decided, then the process died before the provider was called.
  const retried = await makeBooking(ctx.deps, scene, { startsInMs: 72 * HOUR });
  await decideOutcome(ctx.deps.db, { bookingId: retried.id, to: 'cancelled', by: 'customer' });
  expect(await bookingMoney(ctx.deps, retried.id)).toMatchObject({ status: 'cancelled', money_settled_at: null });
  expect(await intentOf(ctx.deps, retried.paymentKey)).toMatchObject({ status: 'requires_capture' });
  expectProblem(await cancel(retried.id, retried.customer.auth), 409, 'booking_not_cancellable');
  expect(await intentOf(ctx.deps, retried.paymentKey)).toMatchObject({ status: 'canceled' });
  expect((await bookingMoney(ctx.deps, retried.id)).money_settled_at).not.toBeNull();

  const left = await makeBooking(ctx.deps, scene, { startsInMs: 96 * HOUR });
  await decideOutcome(ctx.deps.db, { bookingId: left.id, to: 'cancelled', by: 'provider' });
  const handle = await startBookingWorkflow(ctx.deps, left, scene);
  expect(handle.workflowId).toBe(bookingWorkflowId(left.id));
  expect(await handle.result()).toEqual({ status: 'cancelled' });
  expect(await intentOf(ctx.deps, left.paymentKey)).toMatchObject({ status: 'canceled' });
  expect(await ledgerLines(ctx.deps, left.id)).toEqual([{ kind: 'void', amount_cents: 3_000, business_key: `booking:${left.id}:void` }]);
  await eventually(async () => (await bookingMoney(ctx.deps, left.id)).money_settled_at, 5_000, 'settled');
});

it('hides a booking from strangers: cancelling someone else’s booking is 404 and changes nothing', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await makeBooking(ctx.deps, scene);
  const stranger = await makeUser(ctx.deps);
  expectProblem(await cancel(b.id, stranger.auth), 404, 'not_found');
  expect((await bookingMoney(ctx.deps, b.id)).status).toBe('confirmed');
  expectProblem(await cancel(b.id, b.customer.auth, { reason: 'x'.repeat(501) }), 400, 'validation_failed');
  expect((await ctx.http.post(`/v1/bookings/${b.id}/cancel`).send({})).status).toBe(401);
});

it('cancels a booking made through the API by its own payment: a late fee captured from the booking’s authorization, the slot free again', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 5_000, freeUntilHours: 72, lateFeePercent: 20 });
  const customer = await makeUser(ctx.deps);
  const start = localStart(scene.provider.timeZone, 1, 10);
  const id = await confirmedBooking(ctx, customer, scene.service, start);
  const { payment_key: paymentKey } = await bookingMoney(ctx.deps, id);

  const res = await cancel(id, customer.auth);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'cancelled', fee_cents: 1_000, refund_cents: 4_000, captured_cents: 1_000 });
  expect(await intentOf(ctx.deps, paymentKey)).toMatchObject({ status: 'succeeded', amount_cents: 5_000, captured_cents: 1_000 });
  expect((await ledgerLines(ctx.deps, id)).filter((l) => l.kind !== 'authorization')).toEqual([{ kind: 'capture', amount_cents: 1_000, business_key: `booking:${id}:capture` }]);
  // Its booking:<id> workflow now waits out the dispute window (72 h here) to release the fee to the provider.
  const handle = (await ctx.deps.temporal.client()).workflow.getHandle(bookingWorkflowId(id));
  const state = await eventually(async () => {
    const s = await handle.query<{ status: string; nextTimerAt: string | null }>('bookingState');
    return s.status === 'cancelled' && s.nextTimerAt !== null && s;
  }, 10_000, 'the workflow waiting for the release');
  expect(Date.parse(state.nextTimerAt!)).toBeGreaterThan(Date.now() + 71 * HOUR);
  expect((await holdSlot(ctx, await makeUser(ctx.deps), scene.service, start)).status).toBe(201);
});
