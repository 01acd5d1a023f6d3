import { randomUUID } from 'node:crypto';
import { prepareDatabase } from '../../src/main/bootstrap';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUsers } from '../helpers/fixtures';
import { startOwnedPostgres, type OwnedPostgres } from '../helpers/ownedPostgres';
import { eventually } from '../helpers/wait';

/**
 * PostgreSQL stops under a running API (a PostgreSQL of the test's own, never the shared one): reads and writes
 * answer 503 `dependency_unavailable` naming postgres, with Retry-After, quickly, and change nothing; when it is
 * back the same pool serves again without a restart.
 */
let postgres: OwnedPostgres;
let ctx: TestContext;

beforeAll(async () => {
  postgres = await startOwnedPostgres({ name: 'outage' });
  const config = testConfig({ DATABASE_URL: postgres.url('pledgeflow'), DATABASE_POOL_MAX: '4' });
  await prepareDatabase(config);
  ctx = createTestContext(config);
}, 60_000);
afterAll(async () => {
  await ctx?.close();
  postgres?.destroy();
});

const campaignBody = () => ({
  title: `Outage ${randomUUID().slice(0, 8)}`,
  description: 'Made while the database is down',
  category: 'technology',
  goal_cents: 10_000,
  currency: 'USD',
  ends_at: new Date(Date.now() + 86_400_000).toISOString(),
  reward_tiers: [{ title: 'Thanks', min_amount_cents: 500 }],
});

it('answers 503 dependency_unavailable with Retry-After while Postgres is down, changes nothing, and heals', async () => {
  const [creatorId] = await makeUsers(ctx.deps, 1, 'creator');
  const auth = bearer(ctx.deps, creatorId!);
  expect((await ctx.http.get('/v1/campaigns')).status).toBe(200);

  postgres.stop('fast');
  for (const res of [
    await ctx.http.get('/v1/campaigns'),
    await ctx.http.get('/v1/campaigns'),
    await ctx.http.post('/v1/campaigns').set('Authorization', auth).send(campaignBody()),
  ]) {
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'postgres' });
  }

  postgres.start();
  await eventually(async () => (await ctx.http.get('/v1/campaigns')).status === 200, 15_000, 'the API serving again');
  // The create refused during the outage left nothing behind.
  expect(await ctx.deps.db('campaigns').count<{ count: number }[]>('* as count').first()).toMatchObject({ count: 0 });
  expect((await ctx.http.post('/v1/campaigns').set('Authorization', auth).send(campaignBody())).status).toBe(201);
});
