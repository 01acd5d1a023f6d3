import { registerAccount } from '../helpers/api';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeCampaign } from '../helpers/fixtures';
import { startOutboxDispatcher } from '../../src/notifications/dispatcher';
import { enqueueCreatorWebhook } from '../../src/notifications/notify';
import { eventually } from '../helpers/wait';
import { listen } from '../helpers/server';

describe('creator webhooks to private addresses (production rules)', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext(testConfig({ WEBHOOK_ALLOW_PRIVATE_URLS: 'false' }));
  });
  afterAll(() => ctx.close());

  it('refuses a loopback webhook URL at campaign creation with 400 naming the field', async () => {
    const creator = await registerAccount(ctx.http, { role: 'creator' });
    const res = await ctx.http
      .post('/v1/campaigns')
      .set('Authorization', creator.auth)
      .send({
        title: 'SSRF attempt',
        description: 'x',
        category: 'other',
        goal_cents: 1_000,
        currency: 'USD',
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        webhook_url: 'http://127.0.0.1:6379/',
      });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'body.webhook_url' })]);
    expect(await ctx.deps.db('campaigns').where({ title: 'SSRF attempt' }).first()).toBeUndefined();
  });

  it('never calls a private URL stored earlier: the delivery is skipped, not attempted', async () => {
    let hits = 0;
    const receiver = await listen((_req: unknown, res: { end(): void }) => {
      hits++;
      res.end();
    });
    try {
      const campaign = await makeCampaign(ctx.deps, { webhookUrl: `${receiver.url}/hook` });
      await ctx.deps.db.transaction((trx) =>
        enqueueCreatorWebhook(trx, { campaignId: campaign.id, event: 'pledge.created', data: {}, dedupeKey: `ssrf:${campaign.id}` }),
      );
      const dispatcher = startOutboxDispatcher(ctx.deps, { pollIntervalMs: 20 });
      try {
        const row = await eventually(
          async () => ctx.deps.db('outbox').where({ dedupe_key: `webhook:ssrf:${campaign.id}` }).whereNotNull('delivered_at').first(),
          10_000,
          'the webhook row settled',
        );
        expect(row).toBeDefined();
        expect(hits).toBe(0);
      } finally {
        await dispatcher.stop();
      }
    } finally {
      await receiver.close();
    }
  });
});
