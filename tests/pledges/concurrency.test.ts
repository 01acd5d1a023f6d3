import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { campaignTotals, makeCampaign, makeUser, type TestUser } from '../helpers/fixtures';
import { listen } from '../helpers/server';
import { claimed, countRows } from './fixtures';

let ctx: TestContext;
let server: Awaited<ReturnType<typeof listen>>;
let agent: supertest.Agent;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  // One listening server for every request, as a real replica would be, rather than one per request.
  server = await listen(ctx.app);
  agent = supertest.agent(server.url);
});
afterAll(async () => {
  await server?.close();
  await ctx.close();
});

describe('limited reward tier under concurrency', () => {
  it('accepts exactly 10 of 200 concurrent pledges on a tier with 10 slots; the rest are 409 reward_sold_out', async () => {
    const creator = await makeUser(ctx.deps, { role: 'creator' });
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 1_000, quantity: 10 }] });
    const tierId = campaign.tiers[0]!.id;
    const backers: TestUser[] = await Promise.all(Array.from({ length: 200 }, () => makeUser(ctx.deps)));

    const responses = await Promise.all(
      backers.map((backer, i) =>
        agent
          .post(`/v1/campaigns/${campaign.id}/pledges`)
          .set('Authorization', backer.auth)
          .set('Idempotency-Key', randomUUID())
          // Different amounts, so the totals prove exactly which pledges counted.
          .send({ amount_cents: 1_000 + i, reward_tier_id: tierId, payment_method: 'pm_card_visa' }),
      ),
    );

    const accepted = responses.filter((r) => r.status === 201);
    const soldOut = responses.filter((r) => r.status === 409 && r.body.code === 'reward_sold_out');
    expect({ accepted: accepted.length, soldOut: soldOut.length, other: responses.length - accepted.length - soldOut.length }).toEqual({
      accepted: 10,
      soldOut: 190,
      other: 0,
    });
    expect(await claimed(ctx.deps, tierId)).toBe(10);
    const expectedCents = accepted.reduce((sum, r) => sum + (r.body.amount_cents as number), 0);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: expectedCents, backer_count: 10 });
    expect(await countRows(ctx.deps, 'pledges', (q) => q.where({ campaign_id: campaign.id, status: 'active' }))).toBe(10);
    // Sold-out requests never reached the card.
    expect(await countRows(ctx.deps, 'pledges', (q) => q.where({ campaign_id: campaign.id }))).toBe(10);
  });
});
