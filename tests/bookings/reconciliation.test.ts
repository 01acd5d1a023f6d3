import { randomUUID } from 'node:crypto';
import { bookingMoneyKey } from '../../src/bookings/bookingLedger';
import { decideOutcome } from '../../src/bookings/bookingOutcomes';
import { bookingPaymentKey } from '../../src/bookings/contract';
import type { ReconcileBookingsResult } from '../../src/bookings/reconciliation';
import { createPaymentService } from '../../src/payments/paymentService';
import { ownDatabase } from '../commerce/ownDatabase';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bookingMoney, intentOf, ledgerLines, makeBooking, makeScene, noticesOf, type Scene, type TestBooking } from './lifecycleFixtures';

/**
 * Bookings reconciliation (reconcileBookings, run by the bookings-reconcile schedule) repairs what a lost
 * `booking:<id>` workflow or a crashed request left behind: each broken state is made for real (payments through
 * the payment service at the simulated provider, rows whose workflow was never started), one run repairs it, a
 * second changes nothing. On a database of its own, so a run sees only what this file planted (and repairs
 * nothing another test file is looking at).
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let database: Awaited<ReturnType<typeof ownDatabase>>;
let scene: Scene;

const HOUR = 3_600_000;

beforeAll(async () => {
  database = await ownDatabase('recong');
  // Grace of 10 minutes: what the tests plant as old is an hour old; what they make now stays young on a slow machine.
  ctx = createTestContext(testConfig({ RECONCILE_GRACE: '600', DATABASE_URL: database.url, BOOKING_AUTHORIZATION_WINDOW: '6d' }));
  worker = await startTestWorker(ctx.deps);
  scene = await makeScene(ctx.deps, { basePriceCents: 6_000, freeUntilHours: 24 });
});
afterAll(async () => {
  await worker?.stop();
  await ctx?.close();
  await database?.drop();
});

let lastRunId = '';
async function reconcile(): Promise<ReconcileBookingsResult> {
  const client = await ctx.deps.temporal.client();
  lastRunId = `${ctx.deps.config.TASK_QUEUE}:reconcile-bookings-${randomUUID()}`;
  return client.workflow.execute('reconcileBookings', { taskQueue: ctx.deps.config.TASK_QUEUE, workflowId: lastRunId });
}

/** An authorization of the booking's attempt key, as the booking request makes it. */
async function authorizeAttempt(b: TestBooking, attempt: number) {
  const businessKey = bookingPaymentKey(b.id, 'authorize', attempt);
  const p = await createPaymentService(ctx.deps).authorizePayment({ businessKey, amountCents: b.priceCents, currency: 'EUR', paymentMethod: 'pm_card_visa', customerRef: b.customer.id });
  expect(p.status).toBe('requires_capture');
  return businessKey;
}

const hourAgo = () => ctx.deps.db.raw(`now() - interval '1 hour'`);
const paymentStatus = async (businessKey: string) => (await ctx.deps.db('payments').where({ business_key: businessKey }).first('status')).status as string;
const bookingStatus = async (id: string) => (await ctx.deps.db('bookings').where({ id }).first('status')).status as string;

// Staggered starts on the scene's one provider: live rows must not overlap.
let slot = 0;
const nextStart = () => 48 * HOUR + slot++ * 2 * HOUR;

it('voids orphaned authorizations, releases a hold whose timer was lost and settles unsettled money, each once', async () => {
  const { db } = ctx.deps;

  // A booking confirmed on its first card; a second attempt authorized and left holding money (its inline void failed).
  const replaced = await makeBooking(ctx.deps, scene, { startsInMs: nextStart() });
  const secondKey = await authorizeAttempt(replaced, 2);
  await db('payments').where({ business_key: secondKey }).update({ created_at: hourAgo() });
  // As if a confirmation had recorded the second attempt's authorization on the ledger: its void gets a line too.
  const secondIntent = await intentOf(ctx.deps, secondKey);
  await db('ledger_transactions').insert({ booking_id: replaced.id, kind: 'authorization', amount_cents: replaced.priceCents, currency: 'EUR', provider: 'simulated', provider_id: secondIntent.id, business_key: secondKey });

  // A crash between authorizing and confirming: the hold's card authorized, its workflow never started, its end an hour ago.
  const crashed = await makeBooking(ctx.deps, scene, { startsInMs: nextStart(), status: 'held' });
  const crashedKey = await authorizeAttempt(crashed, 1);
  await db('payments').where({ business_key: crashedKey }).update({ created_at: hourAgo() });
  await db('bookings').where({ id: crashed.id }).update({ hold_expires_at: hourAgo() });

  // Cancelled free of charge an hour ago; the request and the workflow died before voiding the authorization.
  const cancelled = await makeBooking(ctx.deps, scene, { startsInMs: nextStart() });
  await decideOutcome(db, { bookingId: cancelled.id, to: 'cancelled', by: 'customer' });
  await db('bookings').where({ id: cancelled.id }).update({ ended_at: hourAgo() });
  expect(await bookingMoney(ctx.deps, cancelled.id)).toMatchObject({ status: 'cancelled', money_settled_at: null });

  expect(await reconcile()).toEqual({ holdsReleased: 1, authorizationsVoided: 2, moneySettled: 1 });

  // The replaced card's money is let go; the card the booking stands on keeps its hold.
  expect(await paymentStatus(secondKey)).toBe('canceled');
  expect((await intentOf(ctx.deps, secondKey)).status).toBe('canceled');
  expect(await paymentStatus(replaced.paymentKey)).toBe('requires_capture');
  expect(await bookingStatus(replaced.id)).toBe('confirmed');
  expect(await ledgerLines(ctx.deps, replaced.id)).toEqual([
    { kind: 'authorization', amount_cents: 6_000, business_key: secondKey },
    { kind: 'void', amount_cents: 6_000, business_key: `${secondKey}:void` },
  ]);

  // The lost hold ended as its timer would have ended it (customer told), and its card's money is let go.
  expect(await bookingStatus(crashed.id)).toBe('expired');
  expect(await noticesOf(ctx.deps, crashed.id, 'booking_hold_expired')).toHaveLength(1);
  expect((await intentOf(ctx.deps, crashedKey)).status).toBe('canceled');
  expect(await ledgerLines(ctx.deps, crashed.id)).toEqual([]);

  // The cancelled booking's money settled by the workflow's own step: nothing kept, the authorization voided.
  expect(await bookingMoney(ctx.deps, cancelled.id)).toMatchObject({ status: 'cancelled', captured_cents: 0, money_error: null });
  expect((await bookingMoney(ctx.deps, cancelled.id)).money_settled_at).not.toBeNull();
  expect((await intentOf(ctx.deps, cancelled.paymentKey)).status).toBe('canceled');
  expect(await ledgerLines(ctx.deps, cancelled.id)).toEqual([{ kind: 'void', amount_cents: 6_000, business_key: `booking:${cancelled.id}:void` }]);

  const metrics = await ctx.http.get('/metrics');
  expect(metrics.text).toMatch(/reconciliation_repairs_total\{kind="booking_orphaned_authorization"\} 2\b/);
  expect(metrics.text).toMatch(/reconciliation_repairs_total\{kind="booking_stale_hold"\} 1\b/);
  expect(metrics.text).toMatch(/reconciliation_repairs_total\{kind="booking_money_unsettled"\} 1\b/);
  // Each repair is kept for the operators' "needs attention" list, with the run that made it.
  const kept = await db('reconciliation_repairs').where({ workflow_id: lastRunId }).orderBy(['kind', 'subject']).select('domain', 'kind', 'subject', 'count');
  expect(kept).toEqual(
    [
      { domain: 'bookings', kind: 'booking_money_unsettled', subject: cancelled.id, count: 1 },
      ...[crashedKey, secondKey].sort().map((subject) => ({ domain: 'bookings', kind: 'booking_orphaned_authorization', subject, count: 1 })),
      { domain: 'bookings', kind: 'booking_stale_hold', subject: crashed.id, count: 1 },
    ],
  );

  // Nothing left to repair: a second run changes nothing.
  expect(await reconcile()).toEqual({ holdsReleased: 0, authorizationsVoided: 0, moneySettled: 0 });
  expect(await paymentStatus(replaced.paymentKey)).toBe('requires_capture');
  expect(await noticesOf(ctx.deps, crashed.id, 'booking_hold_expired')).toHaveLength(1);
  expect(await ledgerLines(ctx.deps, replaced.id)).toHaveLength(2);
  expect(await ledgerLines(ctx.deps, cancelled.id)).toHaveLength(1);
});

it('leaves alone what is inside the grace, an old authorization of a hold still live and a confirmed booking\'s off-session authorization', async () => {
  const { db } = ctx.deps;

  // A second attempt authorized just now.
  const replaced = await makeBooking(ctx.deps, scene, { startsInMs: nextStart() });
  const youngKey = await authorizeAttempt(replaced, 2);

  // A hold a minute past its end (its timer may just be late) with its card authorized a minute ago.
  const lateHold = await makeBooking(ctx.deps, scene, { startsInMs: nextStart(), status: 'held' });
  const lateKey = await authorizeAttempt(lateHold, 1);
  await db('bookings').where({ id: lateHold.id }).update({ hold_expires_at: db.raw(`now() - interval '1 minute'`) });

  // A hold still live whose card was authorized long ago: its request may still confirm it.
  const liveHold = await makeBooking(ctx.deps, scene, { startsInMs: nextStart(), status: 'held' });
  const liveKey = await authorizeAttempt(liveHold, 1);
  await db('payments').where({ business_key: liveKey }).update({ created_at: hourAgo() });

  // A far booking (card saved) whose off-session authorization landed long ago but the booking does not stand on it
  // yet: its lifecycle's retry makes it stand on it, so it is not an orphan.
  const far = await makeBooking(ctx.deps, scene, { startsInMs: nextStart(), mode: 'setup' });
  const offSessionKey = bookingMoneyKey(far.id, 'offsession');
  await createPaymentService(ctx.deps).authorizePayment({ businessKey: offSessionKey, amountCents: far.priceCents, currency: 'EUR', paymentMethod: 'pm_card_visa', customerRef: far.customer.id });
  await db('payments').where({ business_key: offSessionKey }).update({ created_at: hourAgo() });

  // Cancelled a moment ago: its request or workflow is still settling.
  const cancelled = await makeBooking(ctx.deps, scene, { startsInMs: nextStart() });
  await decideOutcome(db, { bookingId: cancelled.id, to: 'cancelled', by: 'customer' });

  expect(await reconcile()).toEqual({ holdsReleased: 0, authorizationsVoided: 0, moneySettled: 0 });
  expect(await paymentStatus(youngKey)).toBe('requires_capture');
  expect(await bookingStatus(lateHold.id)).toBe('held');
  expect(await paymentStatus(lateKey)).toBe('requires_capture');
  expect(await bookingStatus(liveHold.id)).toBe('held');
  expect(await paymentStatus(liveKey)).toBe('requires_capture');
  expect(await paymentStatus(offSessionKey)).toBe('requires_capture');
  expect(await bookingMoney(ctx.deps, cancelled.id)).toMatchObject({ status: 'cancelled', money_settled_at: null });
  expect(await paymentStatus(cancelled.paymentKey)).toBe('requires_capture');
});
