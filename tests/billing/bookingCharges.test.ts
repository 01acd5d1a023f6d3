import { releaseToProvider } from '../../src/bookings/bookingLedger';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeBooking, makeScene, noticesOf } from '../bookings/lifecycleFixtures';

/**
 * A booking's kept money as the provider's seller charge, with real Postgres and the simulated gateway, through the
 * booking routes: a completed booking's price and a late cancellation's fee each give a receipt from the provider to
 * the customer (at rate 0 whatever the provider's configured rate), the platform's bookings fee, entries pending until
 * the provider release after the dispute window, and a booking_charged notice naming the receipt.
 */

const HOUR = 3_600_000;
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ TAX_RATES_BPS: 'default=1900', BOOKING_COMPLETION_GRACE: '24h', BOOKING_REMINDERS: '24h', BOOKING_AUTHORIZATION_WINDOW: '6d' }));
  worker = await startTestWorker(ctx.deps);
});
afterAll(async () => {
  await worker?.stop();
  await ctx.close();
});

const db = () => ctx.deps.db;
const post = (path: string, auth: string, body: object = {}) => ctx.http.post(path).set('Authorization', auth).send(body);

async function chargeOf(bookingId: string) {
  const charge = await db()('seller_charges').where({ source_kind: 'booking', source_id: bookingId }).first();
  const invoice = charge && (await db()('invoices').where({ id: charge.invoice_id }).first());
  const lines = invoice ? await db()('invoice_lines').where({ invoice_id: invoice.id }).select('description', 'unit_amount_cents', 'tax_rate_bps', 'tax_cents') : [];
  const entries = charge ? await db()('balance_entries').where({ charge_id: charge.id }).orderBy('kind', 'desc').select('kind', 'amount_cents', 'available_at') : [];
  return { charge, invoice, lines, entries };
}

it('a completed booking: the provider’s receipt for the price at rate 0, a 10 % fee, pending until the release', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 5_005, title: 'Bike repair' });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: -40 * 60_000, durationMs: HOUR / 2 });
  const done = await post(`/v1/bookings/${b.id}/complete`, scene.provider.owner.auth);
  expect(done.body).toMatchObject({ status: 'completed', captured_cents: 5_005 });

  const { charge, invoice, lines, entries } = await chargeOf(b.id);
  // 10 % of 5005 = 500.5 → 500 (half-even).
  expect(charge).toMatchObject({ seller_user_id: scene.provider.owner.id, customer_user_id: b.customer.id, currency: 'EUR', captured_cents: 5_005, fee_cents: 500, payment_key: b.paymentKey });
  expect(invoice).toMatchObject({ status: 'finalized', issuer_user_id: scene.provider.owner.id, customer_user_id: b.customer.id, source_kind: 'booking', source_id: b.id, tax_cents: 0, total_cents: 5_005 });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ unit_amount_cents: 5_005, tax_rate_bps: 0, tax_cents: 0 });
  expect(lines[0]!.description).toMatch(/^Bike repair, /);
  expect(entries.map((e) => [e.kind, e.amount_cents])).toEqual([
    ['sale', 5_005],
    ['platform_fee', -500],
  ]);
  expect(await db()('seller_charges').where({ id: charge.id }).where('available_at', 'infinity')).toHaveLength(1);
  expect(await db()('ledger_transactions').where({ seller_charge_id: charge.id }).select('kind', 'amount_cents', 'booking_id')).toEqual([{ kind: 'platform_fee', amount_cents: 500, booking_id: b.id }]);

  const [notice] = await noticesOf(ctx.deps, b.id, 'booking_charged');
  expect(notice).toMatchObject({ user_id: b.customer.id, dedupe_key: `booking_charged:${b.id}` });
  expect(notice!.data).toMatchObject({ invoice_id: invoice.id, invoice_number: invoice.number, price_cents: 5_005, currency: 'EUR', service_title: 'Bike repair' });

  // The release after the dispute window makes it available: the later of the release and end + PAYOUT_DELAY_BOOKING.
  const { ended_at } = await db()('bookings').where({ id: b.id }).first('ended_at');
  await releaseToProvider(db(), b.id, ctx.deps.config.PAYOUT_DELAY_BOOKING);
  const after = await chargeOf(b.id);
  // Released now, well before end + 3 days: available at end + 3 days.
  expect(after.charge.available_at.getTime()).toBe(ended_at.getTime() + ctx.deps.config.PAYOUT_DELAY_BOOKING);
  expect(after.entries.map((e) => e.available_at.getTime())).toEqual([after.charge.available_at.getTime(), after.charge.available_at.getTime()]);
  // Released with no delay: available from the release itself.
  const quick = await makeBooking(ctx.deps, scene, { startsInMs: -40 * 60_000, durationMs: HOUR / 2 });
  await post(`/v1/bookings/${quick.id}/complete`, scene.provider.owner.auth);
  const before = Date.now();
  await releaseToProvider(db(), quick.id, 0);
  const released = (await chargeOf(quick.id)).charge.available_at.getTime();
  expect(released).toBeGreaterThanOrEqual(before - 5_000);
  expect(released).toBeLessThanOrEqual(Date.now() + 5_000);
});

it('a late cancellation: the fee kept is the charge, its receipt says so; settling again adds nothing', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 25, title: 'Boiler check' });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 2 * HOUR });
  const res = await post(`/v1/bookings/${b.id}/cancel`, b.customer.auth);
  expect(res.body).toMatchObject({ status: 'cancelled', captured_cents: 2_000 });
  const { charge, invoice, lines } = await chargeOf(b.id);
  expect(charge).toMatchObject({ captured_cents: 2_000, fee_cents: 200 });
  expect(invoice).toMatchObject({ total_cents: 2_000, tax_cents: 0 });
  expect(lines[0]!.description).toMatch(/^Late cancellation fee: Boiler check, /);

  const { createBookingPaymentActivities } = await import('../../src/activities/bookings/bookingPayments');
  await createBookingPaymentActivities(ctx.deps).settleBookingMoney({ bookingId: b.id });
  expect(await db()('seller_charges').where({ source_id: b.id })).toHaveLength(1);
  expect(await db()('balance_entries').where({ charge_id: charge.id })).toHaveLength(2);
  expect(await noticesOf(ctx.deps, b.id, 'booking_charged')).toHaveLength(1);
});

it('nothing kept (an early cancellation): no charge, no receipt', async () => {
  const scene = await makeScene(ctx.deps, { basePriceCents: 8_000, freeUntilHours: 24, lateFeePercent: 25 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 48 * HOUR });
  expect((await post(`/v1/bookings/${b.id}/cancel`, b.customer.auth)).body).toMatchObject({ status: 'cancelled', captured_cents: 0 });
  expect(await db()('seller_charges').where({ source_id: b.id })).toHaveLength(0);
  expect(await noticesOf(ctx.deps, b.id, 'booking_charged')).toHaveLength(0);
});
