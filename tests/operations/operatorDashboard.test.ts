import { randomUUID } from 'node:crypto';
import { BILLING_DIFFERENCES_NOTIFICATION, payoutsWorkflowId } from '../../src/billing/contract';
import { providerWorkflowId } from '../../src/bookings/contract';
import { campaignWorkflowId, droppedPledgeWorkflowId } from '../../src/campaigns/contract';
import { checkoutWorkflowId } from '../../src/commerce/contract';
import { dropWorkflowId } from '../../src/drops/contract';
import { createStore, createVariant } from '../commerce/fixtures';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { bearer, makeCampaign, makePledge, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/**
 * The operator dashboard's reads with real Postgres: the overview (the Temporal UI from TEMPORAL_UI_URL, counts),
 * the account search, providers by status, and "needs attention" (each domain's stuck or failed things, newest
 * first, with the business workflow id), keyset pages, bad input, and 403 for everyone but operators.
 */
const operatorEmail = uniqueEmail('operator');
let ctx: TestContext;
let operator: TestUser;
let merchant: TestUser;
const HOURS_AGO = (h: number) => new Date(Date.now() - h * 3_600_000);

beforeAll(async () => {
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail, TEMPORAL_UI_URL: 'https://temporal.example.test/', TEMPORAL_NAMESPACE: 'pledgeflow-test' }));
  operator = await makeUser(ctx.deps, { email: operatorEmail, name: 'Olga Operator' });
  merchant = await makeUser(ctx.deps, { role: 'merchant' });
});
afterAll(() => ctx.close());

const get = (path: string, auth = operator.auth, query: Record<string, string | number> = {}) => ctx.http.get(path).query(query).set('Authorization', auth);

/** Every page of a list, following next_cursor (bounded, so a cursor that loops fails the test). */
async function allPages(path: string, query: Record<string, string | number>): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  for (let n = 0; n < 1_000; n++) {
    const res = await get(path, operator.auth, cursor ? { ...query, cursor } : query);
    expect(res.status).toBe(200);
    rows.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (!cursor) return rows;
  }
  throw new Error('the cursor never ended');
}

async function makeProvider(status: 'pending' | 'active', name: string): Promise<{ id: string; owner: TestUser }> {
  const owner = await makeUser(ctx.deps, { role: 'provider', name: `${name} owner` });
  const [row] = (await ctx.deps
    .db('providers')
    .insert({ user_id: owner.id, display_name: name, categories: ['plumbing'], time_zone: 'Europe/Berlin', lat: 52.5, lng: 13.4, city: 'Berlin', country: 'DE', status })
    .returning('id')) as Array<{ id: string }>;
  return { id: row!.id, owner };
}

describe('operator reads are for operators', () => {
  it.each(['/v1/operator/overview', '/v1/operator/users', '/v1/operator/providers', '/v1/operator/attention'])('%s: 401 without a token, 403 for a creator', async (path) => {
    expectProblem(await ctx.http.get(path), 401, 'unauthorized');
    const creator = await makeUser(ctx.deps, { role: 'creator' });
    expectProblem(await get(path, creator.auth), 403, 'forbidden');
  });
});

describe('GET /v1/operator/overview', () => {
  it('names the Temporal UI from TEMPORAL_UI_URL and the namespace, and counts pending providers and attention per kind', async () => {
    const before = (await get('/v1/operator/overview')).body;
    await makeProvider('pending', 'Counted Plumbing');
    const res = await get('/v1/operator/overview');
    expect(res.status).toBe(200);
    expect(res.body.temporal).toEqual({ ui_url: 'https://temporal.example.test', namespace: 'pledgeflow-test' });
    expect(res.body.pending_providers).toBe(before.pending_providers + 1);
    expect(Object.keys(res.body.attention).sort()).toEqual(
      ['billing_differences', 'drop_stuck', 'order_failed', 'order_stuck', 'payout_failed', 'pledge_dropped', 'reconciliation_repair', 'settlement_failed'].sort(),
    );
  });

  it('defaults to the dev server’s UI on TEMPORAL_UI_PORT', async () => {
    const other = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail, TEMPORAL_UI_PORT: '9233' }));
    try {
      const res = await other.http.get('/v1/operator/overview').set('Authorization', bearer(other.deps, operator.id));
      expect(res.body.temporal.ui_url).toBe('http://localhost:9233');
    } finally {
      await other.close();
    }
  });
});

describe('GET /v1/operator/users', () => {
  it('finds accounts by email or name (case-insensitive, % taken literally), with the role in effect, in keyset pages', async () => {
    const tag = randomUUID().slice(0, 8);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await makeUser(ctx.deps, { role: 'creator', name: `Zed ${tag} ${i}` }));
    const rows = await allPages('/v1/operator/users', { q: `zed ${tag.toUpperCase()}`, limit: 2 });
    expect(rows.map((r) => r.id)).toEqual(made.map((u) => u.id).reverse());
    expect(rows[0]).toEqual({ id: made[4]!.id, email: made[4]!.email, name: `Zed ${tag} 4`, role: 'creator', email_verified: true, created_at: expect.any(String) });

    const byEmail = await get('/v1/operator/users', operator.auth, { q: operatorEmail });
    expect(byEmail.body.data).toEqual([expect.objectContaining({ id: operator.id, role: 'operator' })]);
    expect((await get('/v1/operator/users', operator.auth, { q: `${tag}%` })).body.data).toEqual([]);
  });

  it('refuses a cursor it did not hand out and a limit out of range (400)', async () => {
    expectProblem(await get('/v1/operator/users', operator.auth, { cursor: 'nope' }), 400, 'validation_failed');
    expectProblem(await get('/v1/operator/users', operator.auth, { limit: 0 }), 400, 'validation_failed');
  });
});

describe('GET /v1/operator/providers', () => {
  it('lists pending providers (the default) newest first with their owner and onboarding workflow; other statuses on request', async () => {
    const first = await makeProvider('pending', 'First Plumbing');
    const second = await makeProvider('pending', 'Second Plumbing');
    const active = await makeProvider('active', 'Active Plumbing');
    const pending = await allPages('/v1/operator/providers', { limit: 1 });
    const ids = pending.map((p) => p.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    expect(ids).not.toContain(active.id);
    expect(pending.find((p) => p.id === second.id)).toEqual({
      id: second.id,
      display_name: 'Second Plumbing',
      categories: ['plumbing'],
      city: 'Berlin',
      country: 'DE',
      status: 'pending',
      owner: { id: second.owner.id, name: 'Second Plumbing owner', email: second.owner.email },
      workflow_id: providerWorkflowId(second.id),
      created_at: expect.any(String),
    });
    expect((await allPages('/v1/operator/providers', { status: 'active' })).map((p) => p.id)).toContain(active.id);
    expectProblem(await get('/v1/operator/providers', operator.auth, { status: 'sleeping' }), 400, 'validation_failed');
  });
});

describe('GET /v1/operator/attention', () => {
  it('lists what each domain says is stuck or failed, newest first, each with its business workflow id', async () => {
    const db = ctx.deps.db;
    // Crowdfunding: a settled campaign with one pledge in its retry window and one dropped.
    const campaign = await makeCampaign(ctx.deps, { status: 'succeeded', title: 'Attention campaign' });
    const [b1, b2] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const failing = await makePledge(ctx.deps, campaign, { backerId: b1.id, amountCents: 1_500 });
    const dropped = await makePledge(ctx.deps, campaign, { backerId: b2.id, amountCents: 2_500 });
    await db('pledges').where({ id: failing }).update({ status: 'payment_failed', failure_code: 'card_declined', updated_at: HOURS_AGO(3.5) });
    await db('pledges').where({ id: dropped }).update({ status: 'dropped', failure_code: 'expired_card', updated_at: HOURS_AGO(4) });

    // Commerce: an order pending for two hours, one the system cancelled; a fresh pending one is not (yet) stuck.
    const storeId = await createStore(ctx, merchant, 'Attention store');
    const order = (status: string, key: string, createdAt: Date) => ({
      store_id: storeId,
      cart_id: randomUUID(),
      checkout_key: key,
      status,
      currency: 'EUR',
      subtotal_cents: 1_000,
      total_cents: 1_000,
      shipping_address: { line1: '1 Main St' },
      created_at: createdAt,
    });
    const [stuckKey, failedKey, freshKey] = [randomUUID(), randomUUID(), randomUUID()];
    const [stuck] = (await db('orders').insert(order('pending', stuckKey, HOURS_AGO(3))).returning('id')) as Array<{ id: string }>;
    const [failed] = (await db('orders').insert(order('cancelled', failedKey, HOURS_AGO(2.5))).returning('id')) as Array<{ id: string }>;
    await db('order_status_history').insert({ order_id: failed!.id, from_status: 'pending', to_status: 'cancelled', actor: 'system', reason: 'payment_not_captured', created_at: HOURS_AGO(2) });
    const [fresh] = (await db('orders').insert(order('pending', freshKey, new Date())).returning('id')) as Array<{ id: string }>;

    // Drops: one that should have opened an hour ago.
    const variantId = await createVariant(ctx, merchant, storeId, 5);
    const [drop] = (await db('drops')
      .insert({ store_id: storeId, variant_id: variantId, created_by: merchant.id, mode: 'fcfs', status: 'scheduled', quantity: 1, price_cents: 900, currency: 'EUR', opens_at: HOURS_AGO(1.5), seed: 'ab', seed_commitment: 'cd', updated_at: HOURS_AGO(1.5) })
      .returning('id')) as Array<{ id: string }>;

    // Billing: a failed payout, and a reconciliation run that told two operators (one item).
    const seller = await makeUser(ctx.deps, { role: 'creator', name: 'Sally Seller' });
    const [payout] = (await db('payouts')
      .insert({ seller_user_id: seller.id, currency: 'EUR', amount_cents: 4_200, status: 'failed', business_key: `test:${randomUUID()}`, failure_code: 'account_closed', updated_at: HOURS_AGO(1) })
      .returning('id')) as Array<{ id: string }>;
    const runWorkflow = `test-queue:billing-reconcile-${randomUUID()}`;
    const other = await makeUser(ctx.deps);
    for (const userId of [operator.id, other.id]) {
      await db('notifications').insert({
        user_id: userId,
        type: BILLING_DIFFERENCES_NOTIFICATION,
        title: 'Billing reconciliation: 1 difference',
        body: '1 charge without a receipt',
        data: { run: `${runWorkflow}:first-run-id` },
        dedupe_key: `test:${randomUUID()}`,
        created_at: HOURS_AGO(0.5),
      });
    }

    const items = await allPages('/v1/operator/attention', { limit: 3 });
    const mine = items.filter((i) =>
      [campaign.id, failing, dropped, stuck!.id, failed!.id, fresh!.id, drop!.id, payout!.id].includes(i.id as string) || (i.workflow_id as string) === runWorkflow,
    );
    expect(mine.map((i) => [i.kind, i.workflow_id])).toEqual([
      ['billing_differences', runWorkflow],
      ['payout_failed', payoutsWorkflowId(seller.id)],
      ['drop_stuck', dropWorkflowId(drop!.id)],
      ['order_failed', checkoutWorkflowId(failedKey)],
      ['order_stuck', checkoutWorkflowId(stuckKey)],
      // The campaign's time is its latest failed pledge's (3.5 h ago), the dropped pledge's its own (4 h ago).
      ['settlement_failed', campaignWorkflowId(campaign.id)],
      ['pledge_dropped', droppedPledgeWorkflowId(dropped)],
    ]);
    expect(mine.find((i) => i.kind === 'settlement_failed')).toMatchObject({ title: 'Attention campaign', detail: '1 failed, 1 dropped', amount_cents: 4_000, currency: 'USD' });
    expect(mine.find((i) => i.kind === 'order_failed')).toMatchObject({ title: 'Attention store', detail: 'payment_not_captured', amount_cents: 1_000, currency: 'EUR' });
    expect(mine.find((i) => i.kind === 'payout_failed')).toMatchObject({ title: 'Sally Seller', detail: 'account_closed', amount_cents: 4_200 });
    expect(mine.find((i) => i.kind === 'billing_differences')).toMatchObject({ title: 'Billing reconciliation: 1 difference', detail: '1 charge without a receipt', amount_cents: null, currency: null });

    const onlyOrders = await allPages('/v1/operator/attention', { kind: 'order_stuck' });
    expect(onlyOrders.every((i) => i.kind === 'order_stuck')).toBe(true);
    expect(onlyOrders.map((i) => i.id)).toContain(stuck!.id);
    expectProblem(await get('/v1/operator/attention', operator.auth, { kind: 'everything' }), 400, 'validation_failed');
    expectProblem(await get('/v1/operator/attention', operator.auth, { cursor: Buffer.from('["x","y"]').toString('base64url') }), 400, 'validation_failed');
  });
});
