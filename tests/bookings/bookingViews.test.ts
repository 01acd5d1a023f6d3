import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { makeBooking, makeScene } from './lifecycleFixtures';

/**
 * Reading bookings: one booking with its status history for its customer, its provider's owner and operators
 * (anyone else, and a hold, 404), the customer's and the provider's lists by status and start range, page by page.
 */
let ctx: TestContext;
let operator: TestUser;
const operatorEmail = uniqueEmail('ops');

beforeAll(async () => {
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail }));
  operator = await makeUser(ctx.deps, { email: operatorEmail });
});
afterAll(() => ctx.close());

const HOUR = 3_600_000;
const get = (path: string, auth?: string) => (auth ? ctx.http.get(path).set('Authorization', auth) : ctx.http.get(path));

it('shows a booking with its service, provider, frozen policy and history to its customer, its provider and operators only', async () => {
  const scene = await makeScene(ctx.deps, { title: 'Boiler service', basePriceCents: 9_900, freeUntilHours: 12, lateFeePercent: 30, noShowFeePercent: 80 });
  const b = await makeBooking(ctx.deps, scene, { startsInMs: 24 * HOUR });
  await ctx.http.post(`/v1/bookings/${b.id}/cancel`).set('Authorization', b.customer.auth).send({ reason: 'moved away' });

  for (const viewer of [b.customer, scene.provider.owner, operator]) {
    const res = await get(`/v1/bookings/${b.id}`, viewer.auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: b.id,
      status: 'cancelled',
      start: b.startsAt.toISOString(),
      end: b.endsAt.toISOString(),
      price_cents: 9_900,
      currency: 'EUR',
      customer_id: b.customer.id,
      customer_name: b.customer.name,
      service: { id: scene.service.id, title: 'Boiler service', duration_minutes: 60 },
      provider: { id: scene.provider.id, time_zone: 'Europe/Berlin', rating_count: 0 },
      policy: { free_until_hours: 12, late_fee_percent: 30, no_show_fee_percent: 80 },
      refund_cents: 9_900,
      fee_cents: 0,
      cancelled_by: 'customer',
    });
    expect(res.body.status_history).toEqual([
      { status: 'confirmed', at: expect.any(String), actor: 'customer', detail: expect.any(Object) },
      { status: 'cancelled', at: expect.any(String), actor: 'customer', detail: expect.objectContaining({ reason: 'moved away' }) },
    ]);
  }

  for (const stranger of [await makeUser(ctx.deps), await makeUser(ctx.deps, { role: 'provider' })]) expectProblem(await get(`/v1/bookings/${b.id}`, stranger.auth), 404, 'not_found');
  expectProblem(await get(`/v1/bookings/${randomUUID()}`, b.customer.auth), 404, 'not_found');
  expect((await get(`/v1/bookings/${b.id}`)).status).toBe(401);
  expectProblem(await get('/v1/bookings/not-a-uuid', b.customer.auth), 400, 'validation_failed');

  // A hold is not a booking.
  const hold = await makeBooking(ctx.deps, scene, { startsInMs: 30 * HOUR, customer: b.customer, status: 'held' });
  expectProblem(await get(`/v1/bookings/${hold.id}`, b.customer.auth), 404, 'not_found');
});

it('lists the customer’s and the provider’s bookings, latest start first, by status and start range, page by page', async () => {
  const scene = await makeScene(ctx.deps);
  const other = await makeScene(ctx.deps);
  const customer = await makeUser(ctx.deps);
  const starts = [10, 20, 30, 40, 50];
  const mine = [];
  for (const h of starts) mine.push(await makeBooking(ctx.deps, scene, { startsInMs: h * HOUR, customer }));
  const elsewhere = await makeBooking(ctx.deps, other, { startsInMs: 25 * HOUR, customer });
  const someoneElses = await makeBooking(ctx.deps, scene, { startsInMs: 60 * HOUR });
  await makeBooking(ctx.deps, scene, { startsInMs: 70 * HOUR, customer, status: 'held' });
  expect((await ctx.http.post(`/v1/bookings/${mine[1]!.id}/cancel`).set('Authorization', customer.auth).send({})).status).toBe(200);

  const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((x) => x.id);

  const all = await get('/v1/me/bookings?limit=100', customer.auth);
  expect(ids(all)).toEqual([mine[4], mine[3], mine[2], elsewhere, mine[1], mine[0]].map((x) => x!.id));
  expect(all.body.next_cursor).toBeNull();

  const confirmed = await get('/v1/me/bookings?status=confirmed', customer.auth);
  expect(ids(confirmed)).toEqual([mine[4], mine[3], mine[2], elsewhere, mine[0]].map((x) => x!.id));
  const cancelled = await get('/v1/me/bookings?status=cancelled', customer.auth);
  expect(cancelled.body.data).toEqual([expect.objectContaining({ id: mine[1]!.id, status: 'cancelled' })]);

  const from = encodeURIComponent(mine[1]!.startsAt.toISOString());
  const to = encodeURIComponent(mine[3]!.startsAt.toISOString());
  expect(ids(await get(`/v1/me/bookings?from=${from}&to=${to}`, customer.auth))).toEqual([mine[2], elsewhere, mine[1]].map((x) => x!.id));

  // Pages of two, following the cursor, give the whole list once.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { data: Array<{ id: string }>; next_cursor: string | null } } = await get(`/v1/me/bookings?limit=2${cursor ? `&cursor=${cursor}` : ''}`, customer.auth);
    seen.push(...ids(page));
    cursor = page.body.next_cursor;
  } while (cursor);
  expect(seen).toEqual(ids(all));

  // The provider's list: every customer's bookings of that provider; its owner and operators only.
  const providerList = await get(`/v1/providers/${scene.provider.id}/bookings?status=confirmed`, scene.provider.owner.auth);
  expect(ids(providerList)).toEqual([someoneElses, mine[4], mine[3], mine[2], mine[0]].map((x) => x!.id));
  // Each with its customer's name: the provider needs to know who is coming.
  expect(providerList.body.data.map((x: { customer_name: string }) => x.customer_name)).toEqual([someoneElses.customer.name, ...[1, 2, 3, 4].map(() => customer.name)]);
  expect(ids(await get(`/v1/providers/${scene.provider.id}/bookings?limit=1`, operator.auth))).toEqual([someoneElses.id]);
  expectProblem(await get(`/v1/providers/${scene.provider.id}/bookings`, other.provider.owner.auth), 404, 'not_found');
  expectProblem(await get(`/v1/providers/${scene.provider.id}/bookings`, customer.auth), 404, 'not_found');

  expectProblem(await get('/v1/me/bookings?status=held', customer.auth), 400, 'validation_failed');
  expectProblem(await get(`/v1/me/bookings?from=${to}&to=${from}`, customer.auth), 400, 'validation_failed');
  expectProblem(await get('/v1/me/bookings?cursor=abc', customer.auth), 400, 'validation_failed');
});
