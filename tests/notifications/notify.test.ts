import { randomUUID } from 'node:crypto';
import { enqueueCreatorWebhook, notify, notifyBackers, notifyMany } from '../../src/notifications/notify';
import type { AppDeps } from '../../src/api/deps';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeCampaign, makeUser, makeUsers } from '../helpers/fixtures';

/**
 * Writing notifications: the inbox row and its outbox rows (push, email) are written together, in the caller's
 * transaction, once per dedupe key.
 */
let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

const outboxRows = (key: string) => ctx.deps.db('outbox').where('dedupe_key', 'like', `%${key}%`);

/** Bare pledge rows in the given statuses (no payments): all notifyBackers reads. */
async function insertPledgeRows(deps: AppDeps, campaignId: string, pledges: { backerId: string; status: string }[]): Promise<void> {
  const rows = pledges.map((p) => ({
    campaign_id: campaignId,
    backer_id: p.backerId,
    amount_cents: 2_500,
    currency: 'USD',
    status: p.status,
    payment_mode: 'save_card',
    payment_method: 'pm_card_visa',
  }));
  for (let i = 0; i < rows.length; i += 1000) await deps.db('pledges').insert(rows.slice(i, i + 1000));
}

describe('notifyMany', () => {
  it('writes a page in one statement, each row once: a repeat adds only the missing ones, with their outbox pushes', async () => {
    const users = await makeUsers(ctx.deps, 3);
    const tag = randomUUID();
    const input = (userId: string, i: number) => ({
      userId,
      type: 'drop_won',
      title: `You won "quotes" and \\backslashes\\ ${i}`,
      body: 'Claim within 48 h',
      data: { drop_id: tag, rank: i + 1, note: 'a "quoted", {braced} value' },
      dedupeKey: `drop_won:${tag}:${i}`,
    });
    expect(await notifyMany(ctx.deps.db, users.slice(0, 2).map(input))).toBe(2);
    expect(await notifyMany(ctx.deps.db, users.map(input))).toBe(1);
    expect(await notifyMany(ctx.deps.db, [])).toBe(0);

    const rows = await ctx.deps.db('notifications').where('dedupe_key', 'like', `drop_won:${tag}:%`).orderBy('dedupe_key');
    expect(rows.map((r: { user_id: string; title: string; data: unknown }) => ({ user_id: r.user_id, title: r.title, data: r.data }))).toEqual(
      users.map((u, i) => ({ user_id: u, title: input(u, i).title, data: input(u, i).data })),
    );
    // A push and an email per notification.
    expect((await outboxRows(`drop_won:${tag}:`)).map((r) => r.dedupe_key).sort()).toEqual(
      [0, 1, 2].flatMap((i) => [`email:drop_won:${tag}:${i}`, `notification:drop_won:${tag}:${i}`]).sort(),
    );
  });
});

describe('notify', () => {
  it('is idempotent by dedupe key: twice gives one notification, one outbox push and one email', async () => {
    const { id: userId } = await makeUser(ctx.deps);
    const dedupeKey = `pledge_received:${randomUUID()}`;
    const input = { userId, type: 'pledge_received', title: 'New pledge', body: '$25.00 from Ada', data: { amount_cents: 2500 }, dedupeKey };

    expect(await ctx.deps.db.transaction((trx) => notify(trx, input))).toBe(true);
    expect(await ctx.deps.db.transaction((trx) => notify(trx, { ...input, title: 'a retried step' }))).toBe(false);

    const notifications = await ctx.deps.db('notifications').where({ dedupe_key: dedupeKey });
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ user_id: userId, type: 'pledge_received', title: 'New pledge', body: '$25.00 from Ada', data: { amount_cents: 2500 }, read_at: null });

    const outbox = (await outboxRows(dedupeKey)).sort((a, b) => a.dedupe_key.localeCompare(b.dedupe_key));
    expect(outbox.map((r) => [r.topic, r.dedupe_key])).toEqual([
      ['notification_email', `email:${dedupeKey}`],
      ['notification_push', `notification:${dedupeKey}`],
    ]);
    // (whether they were delivered yet depends on dispatchers running in parallel test files)
    expect(outbox[1].payload).toEqual(outbox[0].payload);
    expect(outbox[0].payload).toEqual({
      user_id: userId,
      notification: {
        id: notifications[0].id,
        type: 'pledge_received',
        title: 'New pledge',
        body: '$25.00 from Ada',
        data: { amount_cents: 2500 },
        created_at: notifications[0].created_at.toISOString(),
        read_at: null,
      },
    });
  });

  it('writes nothing when the caller\'s transaction rolls back', async () => {
    const { id: userId } = await makeUser(ctx.deps);
    const dedupeKey = `rollback:${randomUUID()}`;
    await expect(
      ctx.deps.db.transaction(async (trx) => {
        await notify(trx, { userId, type: 'pledge_received', title: 'never', dedupeKey });
        throw new Error('the business step failed');
      }),
    ).rejects.toThrow('the business step failed');
    expect(await ctx.deps.db('notifications').where({ dedupe_key: dedupeKey })).toHaveLength(0);
    expect(await outboxRows(dedupeKey)).toHaveLength(0);
  });
});

describe('notifyBackers', () => {
  it('notifies 1,000 backers in one set-based call, once each, and only those in the given statuses', async () => {
    const { db } = ctx.deps;
    const { id: campaignId } = await makeCampaign(ctx.deps);
    const backers = await makeUsers(ctx.deps, 1_000);
    const cancelledOnly = await makeUsers(ctx.deps, 50);
    await insertPledgeRows(ctx.deps, campaignId, [
      ...backers.map((backerId) => ({ backerId, status: 'active' })),
      // a backer who cancelled and pledged again is one backer, notified once
      ...backers.slice(0, 100).map((backerId) => ({ backerId, status: 'cancelled' })),
      ...cancelledOnly.map((backerId) => ({ backerId, status: 'cancelled' })),
    ]);
    const dedupePrefix = `campaign_succeeded:${campaignId}`;
    const input = { campaignId, pledgeStatuses: ['active', 'collected'], type: 'campaign_succeeded', title: 'Funded!', dedupePrefix };

    const started = performance.now();
    const created = await db.transaction((trx) => notifyBackers(trx, input));
    console.log(`notifyBackers: ${created} notifications + outbox rows in ${Math.round(performance.now() - started)} ms`);
    expect(created).toBe(1_000);

    const rows = await db('notifications').where('dedupe_key', 'like', `${dedupePrefix}:%`).select('user_id', 'type', 'data');
    expect(rows).toHaveLength(1_000);
    expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set(backers));
    expect(rows[0]).toMatchObject({ type: 'campaign_succeeded', data: { campaign_id: campaignId } });
    const outbox = await db('outbox').where('dedupe_key', 'like', `notification:${dedupePrefix}:%`).count<{ count: string }[]>('* as count');
    expect(Number(outbox[0]!.count)).toBe(1_000);
    const emails = await db('outbox').where('dedupe_key', 'like', `email:${dedupePrefix}:%`).count<{ count: string }[]>('* as count');
    expect(Number(emails[0]!.count)).toBe(1_000);

    // A retried outcome step adds nothing.
    expect(await db.transaction((trx) => notifyBackers(trx, input))).toBe(0);
    expect(await db('notifications').where('dedupe_key', 'like', `${dedupePrefix}:%`).count<{ count: string }[]>('* as count')).toEqual([{ count: 1_000 }]);
  });

  it('returns 0 for a campaign without matching pledges', async () => {
    const { id: campaignId } = await makeCampaign(ctx.deps);
    expect(await notifyBackers(ctx.deps.db, { campaignId, pledgeStatuses: ['active'], type: 'campaign_failed', title: 'x', dedupePrefix: `x:${campaignId}` })).toBe(0);
    expect(await notifyBackers(ctx.deps.db, { campaignId, pledgeStatuses: [], type: 'campaign_failed', title: 'x', dedupePrefix: `x:${campaignId}` })).toBe(0);
  });
});

describe('enqueueCreatorWebhook', () => {
  it('queues a webhook only when the campaign has a URL, without copying the secret, once per dedupe key', async () => {
    const { db } = ctx.deps;
    const { id: withHook, ownerId } = await makeCampaign(ctx.deps, { webhookUrl: 'http://127.0.0.1:1/hooks', webhookSecret: 'whsec_do_not_copy' });
    const { id: withoutHook } = await makeCampaign(ctx.deps, { ownerId });
    const key = `pledge_created:${randomUUID()}`;
    const input = { campaignId: withHook, event: 'pledge.created', data: { pledge_id: 'p1', amount_cents: 2500 }, dedupeKey: key };

    expect(await enqueueCreatorWebhook(db, input)).toBe(true);
    expect(await enqueueCreatorWebhook(db, input)).toBe(false);
    expect(await enqueueCreatorWebhook(db, { ...input, campaignId: withoutHook, dedupeKey: `${key}:other` })).toBe(false);

    const rows = await outboxRows(key);
    expect(rows).toHaveLength(1);
    expect(rows[0].topic).toBe('creator_webhook');
    expect(rows[0].payload).toEqual({ campaign_id: withHook, event: 'pledge.created', data: { pledge_id: 'p1', amount_cents: 2500 }, event_id: expect.stringMatching(/^evt_[0-9a-f]{32}$/) });
    expect(JSON.stringify(rows[0])).not.toContain('whsec_do_not_copy');
  });

  it('does not collide with an in-app notification that uses the same dedupe key', async () => {
    const { db } = ctx.deps;
    const { id: campaignId, ownerId: owner } = await makeCampaign(ctx.deps, { webhookUrl: 'http://127.0.0.1:1/hooks' });
    const key = `pledge_received:${randomUUID()}`;
    await db.transaction(async (trx) => {
      expect(await notify(trx, { userId: owner, type: 'pledge_received', title: 'New pledge', dedupeKey: key })).toBe(true);
      expect(await enqueueCreatorWebhook(trx, { campaignId, event: 'pledge.created', data: {}, dedupeKey: key })).toBe(true);
    });
    expect((await outboxRows(key)).map((r) => r.topic).sort()).toEqual(['creator_webhook', 'notification_email', 'notification_push']);
  });
});
