import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { providerCalendarChanged } from '../../src/bookings/availabilityCache';
import Redis from 'ioredis';
import { listSlots } from '../../src/bookings/slotListing';
import { dynamicPrice } from '../../src/domain/bookingPrices';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { dateAhead, hhmm, localTime, occupy } from './discoveryFixtures';
import { everyDay, makeProvider, makeService } from './fixtures';

/** GET /v1/services/{id}/slots: the grid, busy rows left out, DST days, the window's limits, and the per-day cache. */
describe('service slots', () => {
  let ctx: TestContext;
  const zone = 'Europe/Berlin';

  beforeAll(() => {
    ctx = createTestContext(testConfig());
  });
  afterAll(async () => {
    await ctx.close();
  });

  const list = (serviceId: string, from?: number | string, to?: number | string) => {
    const query: Record<string, string> = {};
    if (from !== undefined) query.from = typeof from === 'number' ? new Date(from).toISOString() : from;
    if (to !== undefined) query.to = typeof to === 'number' ? new Date(to).toISOString() : to;
    return ctx.http.get(`/v1/services/${serviceId}/slots`).query(query);
  };
  const dayOf = (date: string) => [localTime(zone, date, '00:00'), DateTime.fromISO(date, { zone }).plus({ days: 1 }).toMillis()] as const;

  it('lists the grid of duration + buffer from the opening, leaving out held and confirmed rows (buffers included), priced by the day', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60, bufferMinutes: 15, basePriceCents: 5_000 });
    const date = dateAhead(zone, 10);
    await occupy(ctx.deps, service, localTime(zone, date, '11:30'), { status: 'confirmed' });
    // A 30-minute hold of another length inside the 14:00 slot, and rows that no longer block anything.
    await occupy(ctx.deps, service, localTime(zone, date, '14:10'), { status: 'held', minutes: 30, bufferMinutes: 0 });
    await occupy(ctx.deps, service, localTime(zone, date, '15:15'), { status: 'cancelled' });
    await occupy(ctx.deps, service, localTime(zone, date, '09:00'), { status: 'expired' });

    const res = await list(service.id, ...dayOf(date));
    expect(res.status).toBe(200);
    expect(res.body.time_zone).toBe(zone);
    expect(res.body.slots.map((s: { start: string }) => hhmm(zone, s.start))).toEqual(['09:00', '10:15', '12:45', '15:15']);
    for (const s of res.body.slots) expect(Date.parse(s.end) - Date.parse(s.start)).toBe(60 * 60_000);
    // 2 of the day's 6 grid slots and 2 of its week's 42 are taken.
    const { priceCents } = dynamicPrice(5_000, { demandShare: 2 / 6, weekDemandShare: 2 / 42, completedBookings: 0, ratingAverage: null, ratingCount: 0, locationMultiplier: 1 }, { min: 1, max: 2 });
    expect(priceCents).toBeGreaterThan(5_000);
    expect(res.body.slots.map((s: { price_cents: number }) => s.price_cents)).toEqual([priceCents, priceCents, priceCents, priceCents]);
  });

  it('computes DST days in the provider zone: the spring-forward day skips 02:00, the fall-back day has 02:00 twice', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone, weekly: everyDay('00:00', '06:00') });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60 });

    const spring = await list(service.id, ...dayOf('2027-03-28'));
    expect(spring.status).toBe(200);
    expect(spring.body.slots.map((s: { start: string }) => hhmm(zone, s.start))).toEqual(['00:00', '01:00', '03:00', '04:00', '05:00']);

    const autumn = await list(service.id, ...dayOf('2027-10-31'));
    expect(autumn.body.slots.map((s: { start: string }) => hhmm(zone, s.start))).toEqual(['00:00', '01:00', '02:00', '02:00', '03:00', '04:00', '05:00']);
    // Every slot is one real hour, back to back in UTC.
    const starts = autumn.body.slots.map((s: { start: string }) => Date.parse(s.start));
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBe(3_600_000);
    expect(autumn.body.slots[0].start).toBe('2027-10-30T22:00:00.000Z');
  });

  it('takes at most 31 days, a window that ends after it starts, and defaults to the next 7 days from now', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider);
    const from = Date.now() + 86_400_000;
    const DAY = 86_400_000;

    expectProblem(await list(service.id, from, from + 31 * DAY + 1), 400, 'validation_failed');
    expectProblem(await list(service.id, from, from), 400, 'validation_failed');
    expectProblem(await list(service.id, 'yesterday', from), 400, 'validation_failed');
    const month = await list(service.id, from, from + 31 * DAY);
    expect(month.status).toBe(200);
    expect(month.body.slots.length).toBeGreaterThan(31 * 7);

    const before = Date.now();
    const byDefault = await list(service.id);
    expect(byDefault.status).toBe(200);
    const starts = byDefault.body.slots.map((s: { start: string }) => Date.parse(s.start));
    expect(starts.length).toBeGreaterThan(6 * 8);
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(before);
    expect(Math.max(...starts)).toBeLessThan(Date.now() + 7 * DAY);
    // A window reaching into the past lists nothing that has started.
    const past = await list(service.id, before - 3 * DAY, before + DAY);
    expect(past.body.slots.every((s: { start: string }) => Date.parse(s.start) >= before)).toBe(true);
  });

  it('answers 404 for a pending or rejected provider, an inactive service and an unknown id', async () => {
    for (const status of ['pending', 'rejected'] as const) {
      const provider = await makeProvider(ctx.deps, { status });
      const service = await makeService(ctx.deps, provider);
      expectProblem(await list(service.id), 404, 'not_found');
    }
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    await ctx.deps.db('services').where({ id: service.id }).update({ active: false });
    expectProblem(await list(service.id), 404, 'not_found');
    expectProblem(await list(randomUUID()), 404, 'not_found');
    expectProblem(await ctx.http.get('/v1/services/not-a-uuid/slots'), 400, 'validation_failed');
  });

  it("reuses a day's cached slots until providerCalendarChanged: a slot taken then disappears from the listing", async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60 });
    const date = dateAhead(zone, 12);
    const taken = new Date(localTime(zone, date, '10:00')).toISOString();

    const first = await list(service.id, ...dayOf(date));
    expect(first.body.slots.map((s: { start: string }) => s.start)).toContain(taken);
    await occupy(ctx.deps, service, Date.parse(taken), { status: 'held' });

    // Not yet told: the day comes from the cache, as it was.
    const cached = await list(service.id, ...dayOf(date));
    expect(cached.body).toEqual(first.body);

    await providerCalendarChanged(ctx.deps, provider.id);
    const fresh = await list(service.id, ...dayOf(date));
    expect(fresh.body.slots.map((s: { start: string }) => s.start)).not.toContain(taken);
    expect(fresh.body.slots).toHaveLength(first.body.slots.length - 1);
    // The taken slot raised the day's demand, so its price.
    expect(fresh.body.slots[0].price_cents).toBeGreaterThan(first.body.slots[0].price_cents);
  });

  it('lists slots from Postgres while Redis is unreachable, and providerCalendarChanged then resolves without failing its caller', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60 });
    const date = dateAhead(zone, 9);
    await occupy(ctx.deps, service, localTime(zone, date, '09:00'));

    // Nothing listens there; no reconnects, so the client leaves no handle behind.
    const dead = new Redis('redis://127.0.0.1:1/0', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => undefined);
    try {
      const deps = { config: ctx.deps.config, db: ctx.deps.db, redis: dead };
      const listed = await listSlots(deps, service.id, { from: dayOf(date)[0], to: dayOf(date)[1] }, Date.now());
      expect(listed.slots.map((s) => hhmm(zone, s.start))).toEqual(['10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00']);
      await expect(providerCalendarChanged(deps, provider.id)).resolves.toBeUndefined();
    } finally {
      dead.disconnect();
    }
  });
});
