import { randomUUID } from 'node:crypto';
import { providerWorkflowId } from '../../src/bookings/contract';
import { createTestContext, startTestWorker, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';

/**
 * Providers through the API with real Postgres, Redis and Temporal: onboarding (one per account, under a race
 * too, with its provider:<id> workflow), operators' approval and rejection (Updates of that workflow), who may
 * see a provider that is not active, opening hours and services.
 */

const operatorEmail = uniqueEmail('operator');
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let operator: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail }));
  worker = await startTestWorker(ctx.deps);
  operator = await makeUser(ctx.deps, { email: operatorEmail });
  stranger = await makeUser(ctx.deps, { role: 'provider' });
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

const onboardBody = (over: Record<string, unknown> = {}) => ({
  display_name: 'Ada Repairs',
  bio: 'Bikes and washing machines',
  categories: ['repairs', 'bikes'],
  time_zone: 'Europe/Berlin',
  location: { lat: 52.52, lng: 13.405, city: 'Berlin', country: 'DE' },
  service_radius_km: 25,
  ...over,
});

const onboard = (user: TestUser, body: Record<string, unknown> = onboardBody()) => ctx.http.post('/v1/providers/onboard').set('Authorization', user.auth).send(body);

/** A new provider account, onboarded (pending). */
async function pendingProvider(): Promise<{ owner: TestUser; id: string }> {
  const owner = await makeUser(ctx.deps, { role: 'provider' });
  const res = await onboard(owner);
  expect(res.status).toBe(201);
  return { owner, id: res.body.id };
}

const decide = (id: string, decision: 'approve' | 'reject', auth = operator.auth, body: Record<string, unknown> = {}) =>
  ctx.http.post(`/v1/operator/providers/${id}/${decision}`).set('Authorization', auth).send(body);

const searchAttribute = async (id: string, name: string) =>
  (await (await ctx.deps.temporal.client()).workflow.getHandle(providerWorkflowId(id)).describe()).typedSearchAttributes.get({ name, type: 'KEYWORD' } as never);

describe('onboarding', () => {
  it('creates a pending provider with its provider:<id> workflow (ProviderId, Status pending), shown to its owner', async () => {
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const res = await onboard(owner);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      display_name: 'Ada Repairs',
      status: 'pending',
      rating_average: null,
      rating_count: 0,
      categories: ['repairs', 'bikes'],
      location: { lat: 52.52, lng: 13.405, city: 'Berlin', country: 'DE' },
      time_zone: 'Europe/Berlin',
      bio: 'Bikes and washing machines',
      service_radius_km: 25,
      approved_at: null,
      payout_status: 'missing',
    });
    const id = res.body.id as string;
    expect(await searchAttribute(id, 'ProviderId')).toBe(id);
    expect(await searchAttribute(id, 'Status')).toBe('pending');

    const mine = await ctx.http.get('/v1/me/provider').set('Authorization', owner.auth);
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual(res.body);
    const got = await ctx.http.get(`/v1/providers/${id}`).set('Authorization', owner.auth);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...res.body, services: [] });
  });

  it('hides a pending provider from strangers and anonymous callers (404), not from operators', async () => {
    const { id } = await pendingProvider();
    expectProblem(await ctx.http.get(`/v1/providers/${id}`).set('Authorization', stranger.auth), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/providers/${id}`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/providers/${id}/availability`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/providers/${id}/services`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/providers/${randomUUID()}`), 404, 'not_found');
    const seen = await ctx.http.get(`/v1/providers/${id}`).set('Authorization', operator.auth);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ id, status: 'pending', payout_status: 'missing' });
    expectProblem(await ctx.http.get('/v1/me/provider').set('Authorization', (await makeUser(ctx.deps, { role: 'provider' })).auth), 404, 'not_found');
  });

  it('allows one provider per account: a second onboarding is 409 already_onboarded', async () => {
    const { owner } = await pendingProvider();
    expectProblem(await onboard(owner, onboardBody({ display_name: 'Second try' })), 409, 'already_onboarded');
    expect(await ctx.deps.db('providers').where({ user_id: owner.id }).count<{ count: number }[]>('* as count')).toEqual([{ count: 1 }]);
  });

  it('concurrent onboardings of one account make one provider and one workflow', async () => {
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => onboard(owner, onboardBody({ display_name: `Racer ${i}` }))));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expectProblem(a, 409, 'already_onboarded');
    const rows = await ctx.deps.db('providers').where({ user_id: owner.id }).select('id');
    expect(rows).toEqual([{ id: answers.find((a) => a.status === 201)!.body.id }]);
    // Every onboarding workflow of this file names a provider row that exists: no loser started one.
    const client = await ctx.deps.temporal.client();
    const providerIds = await eventually(async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = 'providerOnboarding' AND TaskQueue = '${ctx.deps.config.TASK_QUEUE}'` })) ids.push(w.workflowId.replace(/^provider:/, ''));
      return ids.includes(rows[0].id) && ids;
    }, 15_000, 'the winner listed');
    const existing = await ctx.deps.db('providers').whereIn('id', providerIds).pluck('id');
    expect(existing.sort()).toEqual([...providerIds].sort());
  });

  it('is for provider accounts only (403), signed in (401)', async () => {
    expectProblem(await onboard(await makeUser(ctx.deps, { role: 'backer' })), 403, 'forbidden');
    expectProblem(await onboard(await makeUser(ctx.deps, { role: 'merchant' })), 403, 'forbidden');
    expectProblem(await ctx.http.post('/v1/providers/onboard').send(onboardBody()), 401, 'unauthorized');
  });

  it('refuses bad input with 400 and creates nothing', async () => {
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const location = onboardBody().location;
    for (const bad of [
      onboardBody({ time_zone: 'Mars/Olympus_Mons' }),
      onboardBody({ time_zone: 'CEST+2' }),
      onboardBody({ location: { ...location, lat: 91 } }),
      onboardBody({ location: { ...location, lng: -180.5 } }),
      onboardBody({ location: { ...location, country: 'de' } }),
      onboardBody({ location: { lat: 1, lng: 2 } }),
      onboardBody({ categories: [] }),
      onboardBody({ display_name: '   ' }),
      onboardBody({ service_radius_km: 0 }),
      onboardBody({ extra: true }),
    ]) {
      expectProblem(await onboard(owner, bad), 400, 'validation_failed');
    }
    expect(await ctx.deps.db('providers').where({ user_id: owner.id }).first()).toBeUndefined();
  });
});

describe('operator decisions', () => {
  it('approve: 200 active with approved_at, the provider told, Status active; then public; a second approval is 409', async () => {
    const { owner, id } = await pendingProvider();
    const res = await decide(id, 'approve');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'active', approved_at: expect.any(String) });
    expect(await ctx.deps.db('providers').where({ id }).first('status')).toEqual({ status: 'active' });
    const notice = await ctx.deps.db('notifications').where({ user_id: owner.id, type: 'provider_approved' }).first('data');
    expect(notice?.data).toMatchObject({ provider_id: id, payout_ready: false });
    await eventually(async () => (await searchAttribute(id, 'Status')) === 'active', 10_000, 'Status active');

    const seen = await ctx.http.get(`/v1/providers/${id}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ id, status: 'active' });
    expect(seen.body).not.toHaveProperty('payout_status');

    expectProblem(await decide(id, 'approve'), 409, 'provider_not_pending');
    expectProblem(await decide(id, 'reject'), 409, 'provider_not_pending');
    // API.md's reject takes no body: the reason is optional, so a request without one is a decision too.
    expectProblem(await ctx.http.post(`/v1/operator/providers/${id}/reject`).set('Authorization', operator.auth), 409, 'provider_not_pending');
  });

  it('reject: 200 rejected with the reason shown to the owner, the provider told; still hidden from strangers', async () => {
    const { owner, id } = await pendingProvider();
    const res = await decide(id, 'reject', operator.auth, { reason: 'Profile incomplete' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'rejected', rejection_reason: 'Profile incomplete' });
    const notice = await ctx.deps.db('notifications').where({ user_id: owner.id, type: 'provider_rejected' }).first('data');
    expect(notice?.data).toMatchObject({ provider_id: id, reason: 'Profile incomplete' });
    expect((await ctx.http.get('/v1/me/provider').set('Authorization', owner.auth)).body).toMatchObject({ status: 'rejected', rejection_reason: 'Profile incomplete' });
    expectProblem(await ctx.http.get(`/v1/providers/${id}`).set('Authorization', stranger.auth), 404, 'not_found');
    expectProblem(await decide(id, 'approve'), 409, 'provider_not_pending');
    // The onboarding is over: its workflow ended with the provider rejected.
    expect(await (await ctx.deps.temporal.client()).workflow.getHandle(providerWorkflowId(id)).result()).toEqual({ status: 'rejected' });
  });

  it('an approval racing a rejection: exactly one decision wins, the other is 409', async () => {
    const { id } = await pendingProvider();
    const [a, r] = await Promise.all([decide(id, 'approve'), decide(id, 'reject', operator.auth, { reason: 'no' })]);
    expect([a.status, r.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'active' : 'rejected';
    expect(await ctx.deps.db('providers').where({ id }).first('status')).toEqual({ status: winner });
    expectProblem(a.status === 409 ? a : r, 409, 'provider_not_pending');
  });

  it('is for operators only: 403 for the provider itself and other accounts; 404 for an unknown provider', async () => {
    const { owner, id } = await pendingProvider();
    expectProblem(await decide(id, 'approve', owner.auth), 403, 'forbidden');
    expectProblem(await decide(id, 'reject', stranger.auth), 403, 'forbidden');
    expectProblem(await decide(id, 'approve', (await makeUser(ctx.deps)).auth), 403, 'forbidden');
    expectProblem(await decide(randomUUID(), 'approve'), 404, 'not_found');
    expect(await ctx.deps.db('providers').where({ id }).first('status')).toEqual({ status: 'pending' });
  });
});

describe('availability', () => {
  const weekly = [
    { weekday: 1, start: '13:00', end: '17:00' },
    { weekday: 1, start: '09:00', end: '12:00' },
    { weekday: 0, start: '10:00', end: '24:00' },
  ];
  const exceptions = [{ date: '2027-01-02', start: '10:00', end: '12:00' }, { date: '2027-01-01', closed: true }];
  const put = (id: string, auth: string, body: Record<string, unknown>) => ctx.http.put(`/v1/providers/${id}/availability`).set('Authorization', auth).send(body);

  it('round-trips weekly hours and exceptions in the provider time zone; public once the provider is active', async () => {
    const { owner, id } = await pendingProvider();
    const res = await put(id, owner.auth, { weekly, exceptions });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      time_zone: 'Europe/Berlin',
      weekly: [weekly[2], weekly[1], weekly[0]],
      exceptions: [exceptions[1], exceptions[0]],
    });
    expect((await ctx.http.get(`/v1/providers/${id}/availability`).set('Authorization', owner.auth)).body).toEqual(res.body);

    expect((await decide(id, 'approve')).status).toBe(200);
    const pub = await ctx.http.get(`/v1/providers/${id}/availability`);
    expect(pub.status).toBe(200);
    expect(pub.body).toEqual(res.body);

    expect((await put(id, owner.auth, { weekly: [] })).body).toEqual({ time_zone: 'Europe/Berlin', weekly: [], exceptions: [] });
  });

  it('a change shows in the listed slots at once (cached slot days of the provider are stale)', async () => {
    const { owner, id } = await pendingProvider();
    expect((await decide(id, 'approve')).status).toBe(200);
    const service = await ctx.http.post(`/v1/providers/${id}/services`).set('Authorization', owner.auth).send({ title: 'Tune-up', category: 'repairs', duration_minutes: 60, base_price_cents: 3_000, currency: 'EUR' });
    expect(service.status).toBe(201);
    const from = new Date(Date.now() + 86_400_000);
    from.setUTCHours(0, 0, 0, 0);
    const to = new Date(from.getTime() + 7 * 86_400_000);
    const slots = async () => {
      const r = await ctx.http.get(`/v1/services/${service.body.id}/slots`).query({ from: from.toISOString(), to: to.toISOString() });
      expect(r.status).toBe(200);
      return (r.body.slots as unknown[]).length;
    };
    const everyDay = (start: string, end: string) => [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, start, end }));
    expect((await put(id, owner.auth, { weekly: everyDay('09:00', '12:00') })).status).toBe(200);
    expect(await slots()).toBe(7 * 3);
    expect(await slots()).toBe(7 * 3);
    expect((await put(id, owner.auth, { weekly: everyDay('09:00', '10:00') })).status).toBe(200);
    expect(await slots()).toBe(7);
  });

  it('refuses invalid hours with 400 and changes nothing; another provider is 404, a backer 403', async () => {
    const { owner, id } = await pendingProvider();
    await put(id, owner.auth, { weekly: [{ weekday: 2, start: '09:00', end: '17:00' }] });
    for (const bad of [
      { weekly: [{ weekday: 7, start: '09:00', end: '17:00' }] },
      { weekly: [{ weekday: 1, start: '17:00', end: '09:00' }] },
      { weekly: [{ weekday: 1, start: '9:00', end: '17:00' }] },
      { weekly: [{ weekday: 1, start: '09:00', end: '24:30' }] },
      { weekly: [{ weekday: 1, start: '09:00', end: '12:00' }, { weekday: 1, start: '11:00', end: '14:00' }] },
      { weekly: [], exceptions: [{ date: '2027-02-30', closed: true }] },
      { weekly: [], exceptions: [{ date: '2027-03-01', closed: true }, { date: '2027-03-01', start: '09:00', end: '10:00' }] },
      { weekly: [], exceptions: [{ date: '2027-03-01', closed: false }] },
      { exceptions: [] },
    ]) {
      expectProblem(await put(id, owner.auth, bad), 400, 'validation_failed');
    }
    expect((await ctx.http.get(`/v1/providers/${id}/availability`).set('Authorization', owner.auth)).body.weekly).toEqual([{ weekday: 2, start: '09:00', end: '17:00' }]);
    expectProblem(await put(id, stranger.auth, { weekly }), 404, 'not_found');
    expectProblem(await put(id, (await makeUser(ctx.deps)).auth, { weekly }), 403, 'forbidden');
  });
});

describe('services', () => {
  const serviceBody = (over: Record<string, unknown> = {}) => ({
    title: 'Bike repair',
    description: 'Any bike, any fault',
    category: 'repairs',
    duration_minutes: 60,
    buffer_minutes: 15,
    base_price_cents: 4_500,
    currency: 'EUR',
    cancellation_policy: { free_until_hours: 48, late_fee_percent: 30, no_show_fee_percent: 80 },
    ...over,
  });
  const post = (id: string, auth: string, body: Record<string, unknown>) => ctx.http.post(`/v1/providers/${id}/services`).set('Authorization', auth).send(body);

  it('creates a service for a pending provider; it is public (with the provider summary) only once the provider is active', async () => {
    const { owner, id } = await pendingProvider();
    const res = await post(id, owner.auth, serviceBody());
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ...serviceBody(), id: expect.any(String), provider_id: id, active: true, created_at: expect.any(String) });
    const serviceId = res.body.id as string;
    expectProblem(await ctx.http.get(`/v1/services/${serviceId}`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/services/${serviceId}`).set('Authorization', stranger.auth), 404, 'not_found');
    const own = await ctx.http.get(`/v1/services/${serviceId}`).set('Authorization', owner.auth);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ ...res.body, provider: { id, status: 'pending' } });

    expect((await decide(id, 'approve')).status).toBe(200);
    const pub = await ctx.http.get(`/v1/services/${serviceId}`);
    expect(pub.status).toBe(200);
    expect(pub.body).toEqual({
      ...res.body,
      provider: {
        id,
        display_name: 'Ada Repairs',
        status: 'active',
        rating_average: null,
        rating_count: 0,
        categories: ['repairs', 'bikes'],
        location: { lat: 52.52, lng: 13.405, city: 'Berlin', country: 'DE' },
        time_zone: 'Europe/Berlin',
      },
    });
    expect((await ctx.http.get(`/v1/providers/${id}/services`)).body).toEqual([res.body]);
    expect((await ctx.http.get(`/v1/providers/${id}`)).body.services).toEqual([res.body]);
    expectProblem(await ctx.http.get(`/v1/services/${randomUUID()}`), 404, 'not_found');
  });

  it('takes the default cancellation terms when none are given, and a missing no-show fee as 100 %', async () => {
    const { owner, id } = await pendingProvider();
    const plain = await post(id, owner.auth, serviceBody({ cancellation_policy: undefined, buffer_minutes: undefined, description: undefined }));
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ buffer_minutes: 0, description: '', cancellation_policy: { free_until_hours: 24, late_fee_percent: 50, no_show_fee_percent: 100 } });
    const partial = await post(id, owner.auth, serviceBody({ cancellation_policy: { free_until_hours: 0, late_fee_percent: 0 } }));
    expect(partial.body.cancellation_policy).toEqual({ free_until_hours: 0, late_fee_percent: 0, no_show_fee_percent: 100 });
  });

  it("refuses bad input with 400; another provider's id is 404, a backer 403, a rejected provider 409", async () => {
    const { owner, id } = await pendingProvider();
    for (const bad of [
      serviceBody({ duration_minutes: 4 }),
      serviceBody({ duration_minutes: 1441 }),
      serviceBody({ duration_minutes: 30.5 }),
      serviceBody({ buffer_minutes: -1 }),
      serviceBody({ base_price_cents: 0 }),
      serviceBody({ currency: 'eur' }),
      serviceBody({ title: '' }),
      serviceBody({ category: undefined }),
      serviceBody({ cancellation_policy: { free_until_hours: 24, late_fee_percent: 101 } }),
      serviceBody({ cancellation_policy: { late_fee_percent: 10 } }),
      serviceBody({ capacity: 2 }),
    ]) {
      expectProblem(await post(id, owner.auth, bad), 400, 'validation_failed');
    }
    expectProblem(await post(id, stranger.auth, serviceBody()), 404, 'not_found');
    expectProblem(await post(randomUUID(), owner.auth, serviceBody()), 404, 'not_found');
    expectProblem(await post(id, (await makeUser(ctx.deps)).auth, serviceBody()), 403, 'forbidden');
    expect(await ctx.deps.db('services').where({ provider_id: id }).first()).toBeUndefined();

    expect((await decide(id, 'reject', operator.auth, {})).status).toBe(200);
    expectProblem(await post(id, owner.auth, serviceBody()), 409, 'onboarding_closed');
  });
});
