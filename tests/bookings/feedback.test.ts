import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { makeBooking, makeScene, type Scene, type TestBooking } from './lifecycleFixtures';

/**
 * Feedback: one rating per completed booking, by its customer; the provider's rating aggregates move in the same
 * transaction; a second (or concurrent) submission is 409; reviews are listed newest first.
 */
let ctx: TestContext;

beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

const HOUR = 3_600_000;
const feedback = (auth: string, body: object) => ctx.http.post('/v1/feedback').set('Authorization', auth).send(body);

/** A booking that started `hoursAgo` hours ago, completed by its provider. */
async function completed(scene: Scene, hoursAgo: number): Promise<TestBooking> {
  const b = await makeBooking(ctx.deps, scene, { startsInMs: -hoursAgo * HOUR, durationMs: HOUR / 2 });
  const res = await ctx.http.post(`/v1/bookings/${b.id}/complete`).set('Authorization', scene.provider.owner.auth).send({});
  expect(res.status).toBe(200);
  return b;
}

const aggregates = async (scene: Scene) => ctx.deps.db('providers').where({ id: scene.provider.id }).first('rating_sum', 'rating_count');

it('takes one rating per completed booking from its customer and counts it for the provider', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await completed(scene, 2);

  const res = await feedback(b.customer.auth, { booking_id: b.id, rating: 4, comment: 'Quick and tidy' });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ booking_id: b.id, provider_id: scene.provider.id, rating: 4, comment: 'Quick and tidy' });
  expect(await aggregates(scene)).toEqual({ rating_sum: 4, rating_count: 1 });

  expectProblem(await feedback(b.customer.auth, { booking_id: b.id, rating: 1 }), 409, 'feedback_exists');
  expect(await aggregates(scene)).toEqual({ rating_sum: 4, rating_count: 1 });
  const provider = await ctx.http.get(`/v1/providers/${scene.provider.id}`);
  expect(provider.body).toMatchObject({ rating_average: 4, rating_count: 1 });
});

it('stores one of many concurrent submissions for a booking; the rest are 409', async () => {
  const scene = await makeScene(ctx.deps);
  const b = await completed(scene, 3);

  const answers = await Promise.all([1, 2, 3, 4, 5, 5].map((rating) => feedback(b.customer.auth, { booking_id: b.id, rating })));
  expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
  const stored = answers.find((a) => a.status === 201)!.body.rating as number;
  expect(await ctx.deps.db('reviews').where({ booking_id: b.id })).toHaveLength(1);
  expect(await aggregates(scene)).toEqual({ rating_sum: stored, rating_count: 1 });
});

it('refuses feedback before completion (422), from anyone but the customer (404), and bad ratings (400)', async () => {
  const scene = await makeScene(ctx.deps);
  const confirmed = await makeBooking(ctx.deps, scene, { startsInMs: 24 * HOUR });
  expectProblem(await feedback(confirmed.customer.auth, { booking_id: confirmed.id, rating: 5 }), 422, 'booking_not_completed');

  const b = await completed(scene, 4);
  expectProblem(await feedback(scene.provider.owner.auth, { booking_id: b.id, rating: 5 }), 404, 'not_found');
  expectProblem(await feedback((await makeUser(ctx.deps)).auth, { booking_id: b.id, rating: 5 }), 404, 'not_found');
  for (const rating of [0, 6, 4.5, '5']) expectProblem(await feedback(b.customer.auth, { booking_id: b.id, rating }), 400, 'validation_failed');
  expect(await aggregates(scene)).toEqual({ rating_sum: 0, rating_count: 0 });
});

it('lists a provider’s reviews newest first, a page at a time', async () => {
  const scene = await makeScene(ctx.deps);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const b = await completed(scene, 10 + i);
    const res = await feedback(b.customer.auth, { booking_id: b.id, rating: 3 + i });
    ids.push(res.body.id);
  }
  const first = await ctx.http.get(`/v1/providers/${scene.provider.id}/reviews?limit=2`);
  expect(first.status).toBe(200);
  expect(first.body.data.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
  expect(first.body.next_cursor).toEqual(expect.any(String));
  const second = await ctx.http.get(`/v1/providers/${scene.provider.id}/reviews?limit=2&cursor=${first.body.next_cursor}`);
  expect(second.body).toEqual({ data: [expect.objectContaining({ id: ids[0], rating: 3 })], next_cursor: null });
  expect(await aggregates(scene)).toEqual({ rating_sum: 12, rating_count: 3 });
  expectProblem(await ctx.http.get(`/v1/providers/${scene.provider.id}/reviews?cursor=nonsense`), 400, 'validation_failed');
});
