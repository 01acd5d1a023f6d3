import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUsers } from '../helpers/fixtures';
import { freePort } from '../helpers/ownedPostgres';

/**
 * Temporal unreachable (nothing listens at TEMPORAL_ADDRESS): a route that must start a workflow answers 503 with
 * Retry-After, promptly, and leaves nothing half-done in Postgres; routes that need no workflow keep working.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }));
});
afterAll(async () => {
  await ctx?.close();
});

it('refuses to launch a campaign with 503 and leaves it a draft', async () => {
  const [creatorId] = await makeUsers(ctx.deps, 1, 'creator');
  const auth = bearer(ctx.deps, creatorId!);
  const created = await ctx.http
    .post('/v1/campaigns')
    .set('Authorization', auth)
    .send({
      title: `No Temporal ${randomUUID().slice(0, 8)}`,
      description: 'Launched while Temporal is unreachable',
      category: 'technology',
      goal_cents: 10_000,
      currency: 'USD',
      ends_at: new Date(Date.now() + 86_400_000).toISOString(),
      reward_tiers: [{ title: 'Thanks', min_amount_cents: 500 }],
    });
  expect(created.status).toBe(201);

  const launched = await ctx.http.post(`/v1/campaigns/${created.body.id}/launch`).set('Authorization', auth).send({});
  expect(launched.status).toBe(503);
  expect(launched.headers['retry-after']).toMatch(/^\d+$/);
  expect(launched.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'temporal' });
  expect(await ctx.deps.db('campaigns').where({ id: created.body.id }).first('status')).toEqual({ status: 'draft' });
  expect((await ctx.http.get(`/v1/campaigns/${created.body.id}`).set('Authorization', auth)).status).toBe(200);
});
