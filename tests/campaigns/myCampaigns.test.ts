import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeCampaign, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/** GET /v1/me/campaigns with real Postgres: a creator's own campaigns in every status, drafts included, newest first. */
let ctx: TestContext;
let creator: TestUser;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  creator = await makeUser(ctx.deps, { role: 'creator' });
});
afterAll(() => ctx.close());

const mine = (auth: string, query: Record<string, string | number> = {}) => ctx.http.get('/v1/me/campaigns').query(query).set('Authorization', auth);

describe('GET /v1/me/campaigns', () => {
  it('lists the caller’s campaigns in every status, drafts included, newest first, in keyset pages; nobody else’s', async () => {
    const made = [];
    for (const status of ['draft', 'live', 'succeeded', 'cancelled']) made.push(await makeCampaign(ctx.deps, { ownerId: creator.id, status, title: `Mine ${status}`, pledgedCents: 1_200, backerCount: 2 }));
    const someoneElses = await makeCampaign(ctx.deps, { status: 'draft' });

    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const res = await mine(creator.auth, cursor ? { limit: 3, cursor } : { limit: 3 });
      expect(res.status).toBe(200);
      seen.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen.map((c) => c.id)).toEqual(made.map((c) => c.id).reverse());
    expect(seen.map((c) => c.id)).not.toContain(someoneElses.id);
    expect(seen[3]).toMatchObject({ title: 'Mine draft', status: 'draft', owner_id: creator.id, pledged_cents: 1_200, backer_count: 2, webhook_url: null });
  });

  it('is empty for a creator with no campaigns; 403 for a backer, 401 without a token, 400 for a bad cursor', async () => {
    const fresh = await makeUser(ctx.deps, { role: 'creator' });
    expect((await mine(fresh.auth)).body).toEqual({ data: [], next_cursor: null });
    expectProblem(await mine((await makeUser(ctx.deps)).auth), 403, 'forbidden');
    expectProblem(await ctx.http.get('/v1/me/campaigns'), 401, 'unauthorized');
    expectProblem(await mine(creator.auth, { cursor: 'not-a-cursor' }), 400, 'validation_failed');
  });
});
