import { randomUUID } from 'node:crypto';
import { locationMultiplier } from '../../src/bookings/pricing';
import { loadConfig } from '../../src/config';
import { quoteSigningKey, verifyQuote } from '../../src/bookings/quotes';
import { dynamicPrice } from '../../src/domain/bookingPrices';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { dateAhead, localTime, occupy } from './discoveryFixtures';
import { makeProvider, makeService } from './fixtures';

/** POST /v1/services/{id}/quotes: a free slot's dynamic price locked as a signed quote; busy or off-grid starts refused. */
describe('service quotes', () => {
  let ctx: TestContext;
  let customer: TestUser;
  const zone = 'America/New_York';

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ QUOTE_TTL: '600s' }));
    customer = await makeUser(ctx.deps);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const quote = (serviceId: string, start: number | string, auth: string | null = customer.auth) => {
    const req = ctx.http.post(`/v1/services/${serviceId}/quotes`);
    if (auth) req.set('Authorization', auth);
    return req.send({ start: typeof start === 'number' ? new Date(start).toISOString() : start });
  };

  it('quotes the price the slot list shows, with its breakdown, for QUOTE_TTL, under an id that verifies', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60, basePriceCents: 8_000, currency: 'USD' });
    const date = dateAhead(zone, 8);
    await occupy(ctx.deps, service, localTime(zone, date, '09:00'));
    await occupy(ctx.deps, service, localTime(zone, date, '10:00'), { status: 'held' });
    const start = localTime(zone, date, '13:00');

    const slots = await ctx.http.get(`/v1/services/${service.id}/slots`).query({ from: new Date(start).toISOString(), to: new Date(start + 3_600_000).toISOString() });
    expect(slots.body.slots).toHaveLength(1);

    const before = Date.now();
    const res = await quote(service.id, start);
    expect(res.status).toBe(201);
    // 2 of the day's 8 slots and of its week's 56 are taken: demand alone moves the price.
    const expected = dynamicPrice(8_000, { demandShare: 2 / 8, weekDemandShare: 2 / 56, completedBookings: 0, ratingAverage: null, ratingCount: 0, locationMultiplier: 1 }, { min: 1, max: 2 });
    expect(res.body).toMatchObject({
      service_id: service.id,
      start: new Date(start).toISOString(),
      end: new Date(start + 3_600_000).toISOString(),
      price_cents: expected.priceCents,
      currency: 'USD',
      breakdown: { base_cents: 8_000, multipliers: { demand: expected.breakdown.multipliers.demand, experience: 1, location: 1 } },
    });
    expect(res.body.breakdown.multipliers.demand).toBeGreaterThan(1);
    expect(res.body.price_cents).toBe(slots.body.slots[0].price_cents);
    expect(res.body.price_cents).toBe(Math.round(8_000 * res.body.breakdown.total_multiplier));
    const ttl = Date.parse(res.body.expires_at) - before;
    expect(ttl).toBeGreaterThanOrEqual(600_000);
    expect(ttl).toBeLessThan(600_000 + 60_000);

    const claims = verifyQuote(quoteSigningKey(ctx.deps.config), res.body.id, Date.now());
    expect(claims).toMatchObject({ serviceId: service.id, providerId: provider.id, start: res.body.start, end: res.body.end, priceCents: res.body.price_cents, currency: 'USD', expiresAt: res.body.expires_at });
    // A lower price written into it, the signature no longer matches.
    const [version, payload, mac] = res.body.id.split('.');
    const cheaper = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), priceCents: 1 })).toString('base64url');
    expect(() => verifyQuote(quoteSigningKey(ctx.deps.config), `${version}.${cheaper}.${mac}`, Date.now())).toThrow(/not valid/);
  });

  it("prices the provider's experience and rating in, within the configured bounds", async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    await ctx.deps.db('providers').where({ id: provider.id }).update({ completed_count: 100, rating_count: 10, rating_sum: 50 });
    const service = await makeService(ctx.deps, provider, { basePriceCents: 10_000 });
    const start = localTime(zone, dateAhead(zone, 5), '12:00');
    const res = await quote(service.id, start);
    expect(res.status).toBe(201);
    expect(res.body.breakdown.multipliers).toEqual({ demand: 1, experience: 1.25, location: 1 });
    expect(res.body.price_cents).toBe(12_500);

    const capped = createTestContext(testConfig({ PRICE_MULTIPLIER_MAX: '1.1' }));
    try {
      const res2 = await capped.http.post(`/v1/services/${service.id}/quotes`)
        .set('Authorization', bearer(capped.deps, customer.id))
        .send({ start: new Date(start).toISOString() });
      expect(res2.status).toBe(201);
      expect(res2.body.breakdown.multipliers.experience).toBe(1.1);
      expect(res2.body.price_cents).toBe(11_000);
    } finally {
      await capped.close();
    }
  });

  it('takes the location multiplier from PRICE_LOCATION_MULTIPLIERS, a city before its country, 1 elsewhere', () => {
    const config = loadConfig({ PRICE_LOCATION_MULTIPLIERS: 'DE=1.1, DE/Berlin=1.2' });
    expect(locationMultiplier(config, { country: 'DE', city: 'Berlin' })).toBe(1.2);
    expect(locationMultiplier(config, { country: 'de', city: 'Hamburg' })).toBe(1.1);
    expect(locationMultiplier(config, { country: 'FR', city: 'Paris' })).toBe(1);
    expect(locationMultiplier(loadConfig({}), { country: 'DE', city: 'Berlin' })).toBe(1);
    // A malformed entry stops the process at start-up instead of pricing at 1 without a word.
    expect(() => loadConfig({ PRICE_LOCATION_MULTIPLIERS: 'DE=1.1, FR=oops' })).toThrow(/PRICE_LOCATION_MULTIPLIERS/);
  });

  it('refuses 409 slot_unavailable for a busy slot, a start off the grid, outside the hours or in the past', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider, { durationMinutes: 60 });
    const date = dateAhead(zone, 6);
    await occupy(ctx.deps, service, localTime(zone, date, '11:00'));

    expectProblem(await quote(service.id, localTime(zone, date, '11:00')), 409, 'slot_unavailable');
    expectProblem(await quote(service.id, localTime(zone, date, '11:30')), 409, 'slot_unavailable');
    expectProblem(await quote(service.id, localTime(zone, date, '20:00')), 409, 'slot_unavailable');
    expectProblem(await quote(service.id, localTime(zone, dateAhead(zone, -1), '12:00')), 409, 'slot_unavailable');
    expect((await quote(service.id, localTime(zone, date, '12:00'))).status).toBe(201);
  });

  it('needs a signed-in caller, a valid start, and a bookable service', async () => {
    const provider = await makeProvider(ctx.deps, { timeZone: zone });
    const service = await makeService(ctx.deps, provider);
    const start = localTime(zone, dateAhead(zone, 4), '12:00');
    expectProblem(await quote(service.id, start, null), 401, 'unauthorized');
    expectProblem(await quote(service.id, 'noon'), 400, 'validation_failed');
    expectProblem(await ctx.http.post(`/v1/services/${service.id}/quotes`).set('Authorization', customer.auth).send({ start: new Date(start).toISOString(), price_cents: 1 }), 400, 'validation_failed');
    expectProblem(await quote(randomUUID(), start), 404, 'not_found');
    const pending = await makeProvider(ctx.deps, { status: 'pending', timeZone: zone });
    expectProblem(await quote((await makeService(ctx.deps, pending)).id, start), 404, 'not_found');
  });
});
