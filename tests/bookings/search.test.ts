import { randomUUID } from 'node:crypto';
import { haversineKm } from '../../src/domain/geo';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { dateAhead, localTime, occupy } from './discoveryFixtures';
import { makeProvider, makeService, type ProviderSpec, type ServiceSpec } from './fixtures';

/**
 * GET /v1/services/search. Each test searches its own category (or words), so tests see only their own rows.
 */
describe('service search', () => {
  let ctx: TestContext;

  beforeAll(() => {
    ctx = createTestContext(testConfig());
  });
  afterAll(async () => {
    await ctx.close();
  });

  type Hit = { service: { id: string; title: string; base_price_cents: number }; provider: { id: string; status: string }; distance_km?: number; next_available_at: string | null; from_price_cents: number };
  const search = (query: Record<string, string | number>) => ctx.http.get('/v1/services/search').query(query);
  const ids = (body: { data?: Hit[] }) => {
    if (!body.data) throw new Error(`not a page: ${JSON.stringify(body)}`);
    return body.data.map((h) => h.service.id);
  };
  const unique = (prefix: string) => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 10)}`;

  async function offer(provider: ProviderSpec = {}, service: ServiceSpec = {}) {
    const p = await makeProvider(ctx.deps, provider);
    const s = await makeService(ctx.deps, p, service);
    return { provider: p, service: s };
  }

  it('finds words in the service and in its provider, best match first, and renders the hit', async () => {
    const word = unique('zq');
    const inTitle = await offer({}, { title: `${word} fixing` });
    const inDescription = await offer({}, { description: `We also do ${word} work` });
    const inProvider = await offer({ displayName: `The ${word} people` });
    await offer({}, { title: unique('other') });

    const res = await search({ q: word });
    expect(res.status).toBe(200);
    expect(ids(res.body).sort()).toEqual([inTitle.service.id, inDescription.service.id, inProvider.service.id].sort());
    // A title (weight A) ranks above a description (weight C).
    expect(ids(res.body).indexOf(inTitle.service.id)).toBeLessThan(ids(res.body).indexOf(inDescription.service.id));
    const hit = res.body.data.find((h: Hit) => h.service.id === inTitle.service.id);
    expect(hit).toMatchObject({ service: { title: `${word} fixing`, base_price_cents: 5_000 }, provider: { id: inTitle.provider.id, status: 'active' }, from_price_cents: 5_000 });
    expect(hit).not.toHaveProperty('distance_km');
    // The first free slot, as the service's slot list has it.
    const slots = await ctx.http.get(`/v1/services/${inTitle.service.id}/slots`);
    expect(hit.next_available_at).toBe(slots.body.slots[0].start);
    expect(res.body.next_cursor).toBeNull();

    // Web search syntax: the others' titles or descriptions (the fixture's "Fixing bikes...") say "fixing".
    expect(ids((await search({ q: `${word} -fixing` })).body)).toEqual([inDescription.service.id]);
  });

  it('filters by category; pending, rejected and expired providers and inactive services are never listed', async () => {
    const category = unique('cat');
    const listed = await offer({}, { category });
    for (const status of ['pending', 'rejected', 'expired'] as const) await offer({ status }, { category });
    const inactive = await offer({}, { category });
    await ctx.deps.db('services').where({ id: inactive.service.id }).update({ active: false });
    await offer({}, { category: unique('cat') });

    const res = await search({ category });
    expect(ids(res.body)).toEqual([listed.service.id]);
    expect(res.body.data[0].provider.status).toBe('active');
  });

  it('keeps results within radius_km of near, sorted by distance, with distance_km (across the antimeridian too)', async () => {
    const category = unique('geo');
    const center = { lat: -41.2865, lng: 174.7762 };
    const at = (dLat: number, dLng: number) => ({ lat: center.lat + dLat, lng: center.lng + dLng });
    const here = await offer({ ...at(0, 0) }, { category });
    const near5 = await offer({ ...at(0.045, 0) }, { category });
    const near30 = await offer({ ...at(0, 0.36) }, { category });
    const far = await offer({ ...at(2, 0) }, { category });

    const res = await search({ category, near: `${center.lat},${center.lng}`, radius_km: 50, sort: 'distance' });
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([here.service.id, near5.service.id, near30.service.id]);
    res.body.data.forEach((h: Hit) => {
      const p = [here, near5, near30].find((o) => o.service.id === h.service.id)!;
      const spec = p === here ? at(0, 0) : p === near5 ? at(0.045, 0) : at(0, 0.36);
      expect(h.distance_km).toBeCloseTo(haversineKm(center, spec), 2);
    });
    expect(res.body.data[1].distance_km).toBeGreaterThan(4.5);
    expect(res.body.data[2].distance_km).toBeGreaterThan(25);

    expect(ids((await search({ category, near: `${center.lat},${center.lng}`, radius_km: 10, sort: 'distance' })).body)).toEqual([here.service.id, near5.service.id]);
    expect(ids((await search({ category, near: `${center.lat},${center.lng}`, radius_km: 500, sort: 'distance' })).body)).toEqual([here.service.id, near5.service.id, near30.service.id, far.service.id]);

    const east = await offer({ lat: 0, lng: 179.95 }, { category });
    const west = await offer({ lat: 0, lng: -179.95 }, { category });
    const across = await search({ category, near: '0,179.99', radius_km: 20, sort: 'distance' });
    expect(ids(across.body)).toEqual([east.service.id, west.service.id]);
  });

  it('filters by min_rating on the average of reviews, and sorts by rating and by price, paging by cursor', async () => {
    const category = unique('rate');
    const rated = async (sum: number, count: number, price: number) => {
      const o = await offer({}, { category, basePriceCents: price });
      await ctx.deps.db('providers').where({ id: o.provider.id }).update({ rating_sum: sum, rating_count: count });
      return o.service.id;
    };
    const fourHalf = await rated(9, 2, 7_000);
    const five = await rated(5, 1, 3_000);
    const three = await rated(3, 1, 1_000);
    const none = await rated(0, 0, 5_000);

    expect(ids((await search({ category, min_rating: 4 })).body).sort()).toEqual([fourHalf, five].sort());
    expect(ids((await search({ category, min_rating: 4.5 })).body).sort()).toEqual([fourHalf, five].sort());
    expect(ids((await search({ category, sort: 'rating' })).body)).toEqual([five, fourHalf, three, none]);
    expect(ids((await search({ category, sort: 'price' })).body)).toEqual([three, five, none, fourHalf]);

    const pages: string[] = [];
    let cursor: string | null | undefined;
    do {
      const res = await search({ category, sort: 'price', limit: 1, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(1);
      pages.push(...ids(res.body));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(pages).toEqual([three, five, none, fourHalf]);
    // A cursor of one sort is refused by another.
    const first = await search({ category, sort: 'price', limit: 1 });
    expectProblem(await search({ category, sort: 'rating', cursor: first.body.next_cursor }), 400, 'invalid_cursor');
  });

  it('available_on keeps services with a free slot that local day (closed days and fully booked days left out)', async () => {
    const category = unique('avail');
    const zone = 'Asia/Tokyo';
    const date = dateAhead(zone, 11);
    const open = await offer({ timeZone: zone }, { category });
    await offer({ timeZone: zone, exceptions: [{ date, closed: true }] }, { category });
    // Open one hour that day, and that hour is booked.
    const full = await offer({ timeZone: zone, exceptions: [{ date, start: '10:00', end: '11:00' }] }, { category, durationMinutes: 60 });
    await occupy(ctx.deps, full.service, localTime(zone, date, '10:00'));
    const freeHour = await offer({ timeZone: zone, exceptions: [{ date, start: '10:00', end: '11:00' }] }, { category, durationMinutes: 60 });

    const res = await search({ category, available_on: date });
    expect(res.status).toBe(200);
    expect(ids(res.body).sort()).toEqual([open.service.id, freeHour.service.id].sort());
    expect(ids((await search({ category })).body)).toHaveLength(4);
    // Paged one by one, the filter leaves the same two, each once.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Hit[]; next_cursor: string | null } } = await search({ category, available_on: date, limit: 1, ...(cursor ? { cursor } : {}) });
      paged.push(...ids(page.body));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(paged.sort()).toEqual([open.service.id, freeHour.service.id].sort());
    expect(ids((await search({ category, available_on: dateAhead(zone, -2) })).body)).toEqual([]);
  });

  it('answers 400 to bad parameters', async () => {
    const bad: Record<string, string | number>[] = [
      { near: 'somewhere' },
      { near: '91,0' },
      { near: '0,181' },
      { near: '1,2,3' },
      { near: '52.5,13.4', radius_km: 0 },
      { near: '52.5,13.4', radius_km: 20_001 },
      { near: '52.5,13.4', radius_km: 'far' },
      { radius_km: 10 },
      { min_rating: 0 },
      { min_rating: 6 },
      { sort: 'distance' },
      { sort: 'cheapest' },
      { available_on: '2027-02-30' },
      { available_on: 'tomorrow' },
      { limit: 0 },
      { limit: 101 },
      { cursor: 'bm90LWEtY3Vyc29y' },
    ];
    for (const query of bad) {
      const res = await search(query);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
