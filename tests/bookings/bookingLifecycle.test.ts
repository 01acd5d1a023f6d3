import { createBookingLifecycleActivities } from '../../src/activities/bookings/bookingLifecycle';
import { bookingChangedSignal, bookingWorkflowId } from '../../src/bookings/contract';
import { reminderDedupeKey } from '../../src/bookings/bookingReminders';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { eventually } from '../helpers/wait';
import { bookingMoney, intentOf, ledgerLines, makeBooking, makeScene, noticesOf } from './lifecycleFixtures';

/**
 * The confirmed booking's workflow with its real timers in seconds: reminders before the start (once per offset and
 * start, again for a new start), the off-session authorization of a far booking and what a decline leads to,
 * completion by itself after end + grace, and the provider's release after the dispute window.
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  ctx = createTestContext(
    testConfig({
      BOOKING_REMINDERS: '4s,2s',
      BOOKING_COMPLETION_GRACE: '2s',
      BOOKING_DISPUTE_WINDOW: '2s',
      BOOKING_AUTHORIZATION_WINDOW: '3s',
    }),
  );
  worker = await startTestWorker(ctx.deps);
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

const handleOf = async (id: string) => (await ctx.deps.temporal.client()).workflow.getHandle(bookingWorkflowId(id));

it('reminds the customer at each offset before the start, never twice, and again for a new start', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 6_500, durationMs: 60_000, workflow: true });

  // The 4 s reminder; then the start moves (as a reschedule moves it) before the 2 s one is due.
  const first = await eventually(async () => (await noticesOf(ctx.deps, b.id, 'booking_reminder')).length > 0 && noticesOf(ctx.deps, b.id, 'booking_reminder'), 10_000, 'first reminder');
  expect(first.map((n) => n.dedupe_key)).toEqual([reminderDedupeKey(b.id, 4_000, b.startsAt)]);
  expect(first[0]).toMatchObject({ user_id: b.customer.id, data: { booking_id: b.id, start: b.startsAt.toISOString() } });
  const moved = new Date(Date.now() + 5_000);
  await ctx.deps.db.transaction(async (trx) => {
    await trx('bookings')
      .where({ id: b.id })
      .update({ starts_at: moved, ends_at: new Date(moved.getTime() + 60_000), blocked: trx.raw(`tstzrange(?::timestamptz, ?::timestamptz, '[)')`, [moved, new Date(moved.getTime() + 60_000)]) });
    await trx('booking_status_history').insert({ booking_id: b.id, status: 'rescheduled', actor: 'customer', detail: JSON.stringify({}) });
  });
  await (await handleOf(b.id)).signal(bookingChangedSignal);

  // Both reminders of the new start (planned after the move, so both are owed).
  const all = await eventually(async () => {
    const n = await noticesOf(ctx.deps, b.id, 'booking_reminder');
    return n.length >= 3 && n;
  }, 10_000, 'the new start’s reminders');
  expect(all.map((n) => n.dedupe_key).sort()).toEqual(
    [reminderDedupeKey(b.id, 4_000, b.startsAt), reminderDedupeKey(b.id, 4_000, moved), reminderDedupeKey(b.id, 2_000, moved)].sort(),
  );

  // A retried step sends nothing more; neither does the old start's 2 s reminder, whose start is gone.
  const activities = createBookingLifecycleActivities({ ...ctx.deps });
  expect(await activities.sendBookingReminder({ bookingId: b.id, offsetMs: 2_000, startsAt: moved.toISOString() })).toEqual({ sent: false });
  expect(await activities.sendBookingReminder({ bookingId: b.id, offsetMs: 2_000, startsAt: b.startsAt.toISOString() })).toEqual({ sent: false });
  await eventually(() => Date.now() > moved.getTime() + 500, 10_000, 'the new start');
  expect(await noticesOf(ctx.deps, b.id, 'booking_reminder')).toHaveLength(3);
  await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', scene.provider.owner.auth).send({});
});

it('completes by itself after end + grace, then releases the captured price to the provider after the dispute window', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 7_500 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: -2_000, durationMs: 3_000, workflow: true });

  expect(await (await handleOf(b.id)).result()).toEqual({ status: 'completed' });
  const row = await bookingMoney(ctx.deps, b.id);
  expect(row).toMatchObject({ status: 'completed', captured_cents: 7_500, money_error: null });
  const history = await ctx.deps.db('booking_status_history').where({ booking_id: b.id }).orderBy('id').select('status', 'actor');
  expect(history).toEqual([
    { status: 'confirmed', actor: 'customer' },
    { status: 'completed', actor: 'system' },
  ]);
  expect(await intentOf(ctx.deps, b.paymentKey)).toMatchObject({ status: 'succeeded', captured_cents: 7_500 });
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([
    { kind: 'capture', amount_cents: 7_500, business_key: `booking:${b.id}:capture` },
    { kind: 'provider_release', amount_cents: 7_500, business_key: `booking:${b.id}:release` },
  ]);
  // Not before the end + grace, and the release not before the dispute window after it.
  const ended = (await ctx.deps.db('bookings').where({ id: b.id }).first('ended_at')).ended_at as Date;
  expect(ended.getTime()).toBeGreaterThanOrEqual(b.endsAt.getTime() + 2_000);
  const released = await ctx.deps.db('ledger_transactions').where({ business_key: `booking:${b.id}:release` }).first('created_at');
  expect(released.created_at.getTime()).toBeGreaterThanOrEqual(ended.getTime() + 2_000);
  expect(await ctx.deps.db('providers').where({ id: scene.provider.id }).first('completed_count')).toEqual({ completed_count: 1 });
  expect(await noticesOf(ctx.deps, b.id, 'booking_completed')).toHaveLength(1);
  expect(await noticesOf(ctx.deps, b.id, 'booking_feedback_requested')).toHaveLength(1);
});

it('authorizes a far booking’s price off-session before the start, and the booking stands on that authorization', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 6_000 });
  // The card is saved only; the authorization window (3 s) opens 2 s from now.
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 5_000, durationMs: 60_000, mode: 'setup', workflow: true });
  const offSession = `booking:${b.id}:authorize:offsession`;

  await eventually(async () => (await bookingMoney(ctx.deps, b.id)).payment_key === offSession, 10_000, 'the off-session authorization');
  expect(await intentOf(ctx.deps, offSession)).toMatchObject({ status: 'requires_capture', amount_cents: 6_000 });
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([{ kind: 'authorization', amount_cents: 6_000, business_key: offSession }]);

  // Cancelled by the provider now: that authorization is what gets voided.
  const res = await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', scene.provider.owner.auth).send({});
  expect(res.body).toMatchObject({ status: 'cancelled', fee_cents: 0, refund_cents: 6_000 });
  expect(await intentOf(ctx.deps, offSession)).toMatchObject({ status: 'canceled' });
  expect(await (await handleOf(b.id)).result()).toEqual({ status: 'cancelled' });
});

it('tells the customer when the off-session authorization is declined, and the platform cancels free of charge after the grace', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 6_000, freeUntilHours: 24, lateFeePercent: 100 });
  // Saves fine, every charge fails. Authorization at 3 s before the start; the grace is half of what is left.
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 6_000, durationMs: 60_000, mode: 'setup', paymentMethod: 'pm_card_chargeCustomerFail', workflow: true });

  expect(await (await handleOf(b.id)).result()).toEqual({ status: 'cancelled' });
  const failed = await noticesOf(ctx.deps, b.id, 'booking_payment_failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ user_id: b.customer.id, data: { failure_code: 'generic_decline' } });
  expect(await bookingMoney(ctx.deps, b.id)).toMatchObject({ status: 'cancelled', cancelled_by: 'system', fee_cents: 0, refund_cents: 6_000, captured_cents: 0 });
  const cancelled = await ctx.deps.db('booking_status_history').where({ booking_id: b.id, status: 'cancelled' }).first('actor', 'created_at');
  expect(cancelled.actor).toBe('system');
  expect(cancelled.created_at.getTime()).toBeLessThan(b.startsAt.getTime());
  expect((await noticesOf(ctx.deps, b.id, 'booking_cancelled')).map((n) => n.user_id).sort()).toEqual([b.customer.id, scene.provider.owner.id].sort());
  expect(await ledgerLines(ctx.deps, b.id)).toEqual([]);
});

it('re-plans on every bookingChanged and goes back to sleep: no runaway loop in its history', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 3_600_000, workflow: true });
  const handle = await handleOf(b.id);
  for (let i = 0; i < 20; i++) await handle.signal(bookingChangedSignal);
  await eventually(async () => (await handle.query<{ nextTimerAt: string | null }>('bookingState')).nextTimerAt !== null, 10_000, 'asleep again');
  const { historyLength } = await handle.describe();
  // Each wake is a plan and a sleep: a few events, never a loop that runs away.
  expect(historyLength).toBeLessThan(20 * 12 + 40);
  expect((await bookingMoney(ctx.deps, b.id)).status).toBe('confirmed');
  await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', b.customer.auth).send({});
  expect(await handle.result()).toEqual({ status: 'cancelled' });
});
