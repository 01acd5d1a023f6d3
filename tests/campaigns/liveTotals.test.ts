import { applyTotalsDelta, LIVE_TOTALS_TTL_SECONDS, liveTotalsKey, readTotals } from '../../src/campaigns/liveTotals';
import { createTotalsAnnouncer } from '../../src/campaigns/campaignTotals';
import { readCampaignEventsAfter, STREAM_START_ID } from '../../src/campaigns/events';
import type { RedisClient } from '../../src/infra/redis';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { campaignTotals, makeCampaign, makeUser } from '../helpers/fixtures';

/**
 * The Redis counters behind a campaign's live totals: a cache of the Postgres totals that pledges keep warm
 * with deltas, rebuilt from Postgres whenever it is missing.
 */

let ctx: TestContext;
let ownerId: string;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  ownerId = (await makeUser(ctx.deps, { role: 'creator' })).id;
});
afterAll(() => ctx.close());

const campaignWith = async (pledgedCents: number, backerCount: number): Promise<string> =>
  (await makeCampaign(ctx.deps, { ownerId, title: 'Counters', pledgedCents, backerCount })).id;

/** What a pledge does: move the Postgres totals in its transaction, then the Redis counters after commit. */
async function pledge(campaignId: string, cents: number, backers: number) {
  await ctx.deps
    .db('campaigns')
    .where({ id: campaignId })
    .update({ pledged_cents: ctx.deps.db.raw('pledged_cents + ?', [cents]), backer_count: ctx.deps.db.raw('backer_count + ?', [backers]) });
  await applyTotalsDelta(ctx.deps.redis, campaignId, { pledgedCents: cents, backerCount: backers });
}

it('rebuilds missing counters from Postgres, with a bounded TTL', async () => {
  const id = await campaignWith(12_345, 3);
  expect(await ctx.deps.redis.exists(liveTotalsKey(id))).toBe(0);
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 12_345, backer_count: 3 });
  expect(await ctx.deps.redis.hgetall(liveTotalsKey(id))).toEqual({ pledged_cents: '12345', backer_count: '3' });
  const ttl = await ctx.deps.redis.ttl(liveTotalsKey(id));
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(LIVE_TOTALS_TTL_SECONDS);
});

it('applies deltas to existing counters, so reads stop touching Postgres', async () => {
  const id = await campaignWith(1_000, 1);
  await readTotals(ctx.deps, id);
  await pledge(id, 2_500, 1);
  await pledge(id, -1_000, -1);
  expect(await ctx.deps.redis.hgetall(liveTotalsKey(id))).toEqual({ pledged_cents: '2500', backer_count: '1' });
  // Prove the read comes from Redis: change Postgres behind its back.
  await ctx.deps.db('campaigns').where({ id }).update({ pledged_cents: 999_999 });
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 2_500, backer_count: 1 });
});

it('never creates counters from a delta: a missing hash means "ask Postgres"', async () => {
  const id = await campaignWith(50_000, 10);
  await applyTotalsDelta(ctx.deps.redis, id, { pledgedCents: 700, backerCount: 1 });
  expect(await ctx.deps.redis.exists(liveTotalsKey(id))).toBe(0);
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 50_000, backer_count: 10 });
});

it('deltas do not extend the TTL, so a stale rebuild lives at most one TTL', async () => {
  const id = await campaignWith(0, 0);
  await readTotals(ctx.deps, id);
  await ctx.deps.redis.expire(liveTotalsKey(id), 5);
  await pledge(id, 100, 1);
  expect(await ctx.deps.redis.ttl(liveTotalsKey(id))).toBeLessThanOrEqual(5);
});

it('after the counters are lost (key deleted), the next read equals Postgres again and deltas resume', async () => {
  const id = await campaignWith(0, 0);
  await readTotals(ctx.deps, id);
  await pledge(id, 4_000, 1);
  await pledge(id, 6_000, 1);
  await ctx.deps.redis.del(liveTotalsKey(id));
  // Pledges made while the counters are missing are not lost: Postgres has them.
  await pledge(id, 500, 1);
  expect(await readTotals(ctx.deps, id)).toEqual(await campaignTotals(ctx.deps, id));
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 10_500, backer_count: 3 });
  await pledge(id, 1_500, 1);
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 12_000, backer_count: 4 });
  expect(await readTotals(ctx.deps, id)).toEqual(await campaignTotals(ctx.deps, id));
});

it('after Redis loses every counter (as after FLUSHDB or a restart), each campaign reads its Postgres totals', async () => {
  // Deleting this test's keys rather than FLUSHDB: the run's Redis database is shared with other test files.
  const ids = [await campaignWith(100, 1), await campaignWith(200, 2), await campaignWith(300, 3)];
  for (const id of ids) await readTotals(ctx.deps, id);
  for (const id of ids) await pledge(id, 1_000, 1);
  await ctx.deps.redis.del(...ids.map(liveTotalsKey));
  // Pledges keep arriving while the cache is empty.
  await pledge(ids[0]!, 50, 1);
  for (const id of ids) expect(await readTotals(ctx.deps, id)).toEqual(await campaignTotals(ctx.deps, id));
  expect(await readTotals(ctx.deps, ids[0]!)).toEqual({ pledged_cents: 1_150, backer_count: 3 });
  expect(await readTotals(ctx.deps, ids[2]!)).toEqual({ pledged_cents: 1_300, backer_count: 4 });
});

it('falls back to Postgres when Redis is unreachable', async () => {
  const id = await campaignWith(777, 7);
  // A client whose every command fails the way ioredis does when the server is gone.
  const down = new Proxy({}, { get: () => async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) }) as RedisClient;
  expect(await readTotals({ db: ctx.deps.db, redis: down }, id)).toEqual({ pledged_cents: 777, backer_count: 7 });
});

it('reports zero for an unknown campaign without caching anything', async () => {
  const id = '00000000-0000-4000-8000-000000000000';
  expect(await readTotals(ctx.deps, id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  expect(await ctx.deps.redis.exists(liveTotalsKey(id))).toBe(0);
});

it('serves the detail endpoint: GET /v1/campaigns/{id} equals Postgres after the counters are lost', async () => {
  const id = await campaignWith(0, 0);
  await pledge(id, 3_000, 1);
  expect((await ctx.http.get(`/v1/campaigns/${id}`)).body).toMatchObject({ pledged_cents: 3_000, backer_count: 1, percent_funded: 3 });
  await pledge(id, 4_000, 1);
  await ctx.deps.redis.del(liveTotalsKey(id));
  expect((await ctx.http.get(`/v1/campaigns/${id}`)).body).toMatchObject({ pledged_cents: 7_000, backer_count: 2, percent_funded: 7 });
});

it('folds announcements that arrive while one is on its way: counters exact, the newest totals published last', async () => {
  const id = await campaignWith(0, 0);
  await readTotals(ctx.deps, id); // warm counters, as the campaign page leaves them
  const announce = createTotalsAnnouncer(ctx.deps);
  // Twenty pledges committed at once: the first is sent alone, the other nineteen ride together behind it.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      announce(id, { pledgedCents: 100, backerCount: 1 }, { pledged_cents: 100 * (i + 1), backer_count: i + 1, goal_cents: 10_000 }),
    ),
  );
  expect(await ctx.deps.redis.hgetall(liveTotalsKey(id))).toEqual({ pledged_cents: '2000', backer_count: '20' });
  const events = await readCampaignEventsAfter(ctx.deps.redis, id, STREAM_START_ID);
  expect(events.map((e) => e.event)).toEqual([
    { type: 'progress', pledged_cents: 100, backer_count: 1, percent_funded: 1 },
    { type: 'progress', pledged_cents: 2_000, backer_count: 20, percent_funded: 20 },
  ]);
  // An announcement after the batch drained goes on its own, at once.
  await announce(id, { pledgedCents: 50, backerCount: 1 }, { pledged_cents: 2_050, backer_count: 21, goal_cents: 10_000 });
  expect(await ctx.deps.redis.hgetall(liveTotalsKey(id))).toEqual({ pledged_cents: '2050', backer_count: '21' });
  expect(await readCampaignEventsAfter(ctx.deps.redis, id, STREAM_START_ID)).toHaveLength(3);
});
