import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import { PROVIDER_ONBOARDING_WORKFLOW, providerOnboardingStateQuery, providerWorkflowId, type ProviderOnboardingWorkflow } from '../../src/bookings/contract';
import { payoutAccountReported } from '../../src/bookings/providerPayouts';
import { PENDING_PAYOUT_EMAIL_MARKER, SimulatedGateway } from '../../src/payments/simulatedGateway';
import { STRIPE_API_VERSION } from '../../src/payments/stripeGateway';
import { TemporalClientProvider } from '../../src/temporal/client';
import { closeDeps, createTestContext, createTestDeps, startTestWorker, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';

/**
 * The onboarding workflow `provider:<id>` with its real timers in seconds: a reminder, then expiry of an
 * onboarding no operator decided; and payout details through the simulated gateway's connected accounts,
 * before or after the approval (approval makes the provider active at once; the onboarding ends once the
 * payout account is ready too).
 */

const WEBHOOK_SECRET = 'whsec_pledgeflow_provider_test';

const onboardBody = {
  display_name: 'Bea Plumbing',
  categories: ['plumbing'],
  time_zone: 'America/New_York',
  location: { lat: 40.71, lng: -74.0, city: 'New York', country: 'US' },
};

interface Setup {
  ctx: TestContext;
  worker: Awaited<ReturnType<typeof startTestWorker>>;
  operator: TestUser;
}

async function setUp(overrides: Record<string, string>): Promise<Setup> {
  const operatorEmail = uniqueEmail('operator');
  const ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail, ...overrides }));
  const worker = await startTestWorker(ctx.deps);
  return { ctx, worker, operator: await makeUser(ctx.deps, { email: operatorEmail }) };
}

async function tearDown(s: Setup | undefined): Promise<void> {
  await s?.worker.stop();
  await s?.ctx.close();
}

async function onboard(ctx: TestContext, owner: TestUser): Promise<string> {
  const res = await ctx.http.post('/v1/providers/onboard').set('Authorization', owner.auth).send(onboardBody);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const handle = async (ctx: TestContext, id: string) => (await ctx.deps.temporal.client()).workflow.getHandle(providerWorkflowId(id));
const notices = (ctx: TestContext, userId: string, type: string) => ctx.deps.db('notifications').where({ user_id: userId, type }).select('data');

describe('timers: reminder, then expiry of an undecided onboarding', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({ PROVIDER_ONBOARDING_REMINDER: '1s', PROVIDER_ONBOARDING_EXPIRY: '3s' });
  });
  afterAll(() => tearDown(s));

  it('reminds the provider once of what is missing, then expires it (status expired, told, Status expired); a late approval is 409', async () => {
    const { ctx, operator } = s;
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const id = await onboard(ctx, owner);

    const reminders = await eventually(async () => {
      const rows = await notices(ctx, owner.id, 'provider_onboarding_reminder');
      return rows.length > 0 && rows;
    }, 15_000, 'the reminder');
    expect(reminders).toEqual([{ data: { provider_id: id, missing: ['operator_review', 'payout_details'] } }]);

    const wf = await handle(ctx, id);
    expect(await wf.result()).toEqual({ status: 'expired' });
    expect(await ctx.deps.db('providers').where({ id }).first('status')).toEqual({ status: 'expired' });
    expect(await notices(ctx, owner.id, 'provider_onboarding_expired')).toEqual([{ data: { provider_id: id } }]);
    expect(await notices(ctx, owner.id, 'provider_onboarding_reminder')).toHaveLength(1);
    expect((await wf.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never)).toBe('expired');

    expectProblem(await ctx.http.post(`/v1/operator/providers/${id}/approve`).set('Authorization', operator.auth).send({}), 409, 'provider_not_pending');
    expectProblem(await ctx.http.get(`/v1/providers/${id}`), 404, 'not_found');
    expect((await ctx.http.get('/v1/me/provider').set('Authorization', owner.auth)).body).toMatchObject({ id, status: 'expired' });
    expectProblem(await ctx.http.post(`/v1/providers/${id}/payout-account`).set('Authorization', owner.auth).send({}), 409, 'onboarding_closed');
  });

  it('a workflow whose provider row never committed ends by itself after the grace', async () => {
    const client = await s.ctx.deps.temporal.client();
    const providerId = randomUUID();
    const wf = await client.workflow.start<ProviderOnboardingWorkflow>(PROVIDER_ONBOARDING_WORKFLOW, {
      workflowId: providerWorkflowId(providerId),
      taskQueue: s.ctx.deps.config.TASK_QUEUE,
      args: [{ providerId, userId: randomUUID(), displayName: 'Ghost', reminderMs: 60_000, expiryMs: 120_000, rowGraceMs: 500 }],
    });
    expect(await wf.result()).toEqual({ status: 'expired' });
  });
});

describe('payout details and the decision, in either order', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp({ PROVIDER_ONBOARDING_REMINDER: '2s', PROVIDER_ONBOARDING_EXPIRY: '1h', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET });
  });
  afterAll(() => tearDown(s));

  /** Stripe's signed `account.updated` delivery, as its webhook sends it. */
  const accountUpdated = (ctx: TestContext, accountId: string, ready: boolean) => {
    const payload = JSON.stringify({
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      object: 'event',
      type: 'account.updated',
      api_version: STRIPE_API_VERSION,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: { id: accountId, object: 'account', type: 'express', details_submitted: ready, payouts_enabled: ready, charges_enabled: ready } },
    });
    return ctx.http
      .post('/v1/webhooks/stripe')
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }))
      .send(payload);
  };

  const payoutAccount = (ctx: TestContext, id: string, auth: string) => ctx.http.post(`/v1/providers/${id}/payout-account`).set('Authorization', auth).send({});

  it('approval first: active at once; the reminder names the payout details; the onboarding ends once the account is ready', async () => {
    const { ctx, operator } = s;
    const owner = await makeUser(ctx.deps, { role: 'provider', email: `provider+${PENDING_PAYOUT_EMAIL_MARKER}-${randomUUID()}@example.test` });
    const id = await onboard(ctx, owner);

    const pending = await payoutAccount(ctx, id, owner.auth);
    expect(pending.status).toBe(201);
    expect(pending.body).toEqual({ account_id: expect.stringMatching(/^acct_/), status: 'pending', onboarding_url: expect.stringMatching(/^https:\/\//) });
    expect((await ctx.http.get('/v1/me/provider').set('Authorization', owner.auth)).body.payout_status).toBe('pending');

    const approved = await ctx.http.post(`/v1/operator/providers/${id}/approve`).set('Authorization', operator.auth).send({});
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'active', payout_status: 'pending' });
    expect(await notices(ctx, owner.id, 'provider_approved')).toEqual([{ data: { provider_id: id, payout_ready: false } }]);
    expect((await ctx.http.get(`/v1/providers/${id}`)).status).toBe(200);

    const reminder = await eventually(async () => (await notices(ctx, owner.id, 'provider_onboarding_reminder'))[0], 15_000, 'the payout reminder');
    expect(reminder).toEqual({ data: { provider_id: id, missing: ['payout_details'] } });
    const wf = await handle(ctx, id);
    expect(await wf.query(providerOnboardingStateQuery)).toMatchObject({ status: 'active', payoutReady: false, decidedBy: operator.id });
    expect((await wf.describe()).status.name).toBe('RUNNING');

    // The provider finishes the hosted onboarding and comes back: the same account, ready now.
    await (ctx.deps.payments as SimulatedGateway).simulateAccountOnboarded(pending.body.account_id);
    const ready = await payoutAccount(ctx, id, owner.auth);
    expect(ready.status).toBe(201);
    expect(ready.body).toEqual({ account_id: pending.body.account_id, status: 'ready' });
    expect(await wf.result()).toEqual({ status: 'active' });
    expect(await ctx.deps.db('providers').where({ id }).first('status', 'payout_status', 'payout_account_id')).toEqual({
      status: 'active',
      payout_status: 'ready',
      payout_account_id: pending.body.account_id,
    });
    expect((await wf.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never)).toBe('active');
  });

  it('payout details first: recorded ready at once; the onboarding waits for the decision, then ends active', async () => {
    const { ctx, operator } = s;
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const id = await onboard(ctx, owner);

    const [first, again] = await Promise.all([payoutAccount(ctx, id, owner.auth), payoutAccount(ctx, id, owner.auth)]);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ account_id: expect.stringMatching(/^acct_/), status: 'ready' });
    expect(again.body).toEqual(first.body);
    const wf = await handle(ctx, id);
    await eventually(async () => (await wf.query(providerOnboardingStateQuery)).payoutReady, 10_000, 'payout recorded by the workflow');
    expect(await wf.query(providerOnboardingStateQuery)).toMatchObject({ status: 'pending', payoutReady: true });
    expect((await wf.describe()).status.name).toBe('RUNNING');
    expect((await ctx.http.get('/v1/me/provider').set('Authorization', owner.auth)).body).toMatchObject({ status: 'pending', payout_status: 'ready' });

    expect((await ctx.http.post(`/v1/operator/providers/${id}/approve`).set('Authorization', operator.auth).send({})).status).toBe(200);
    expect(await wf.result()).toEqual({ status: 'active' });
    expect(await notices(ctx, owner.id, 'provider_approved')).toEqual([{ data: { provider_id: id, payout_ready: true } }]);
  });

  it("the payment provider's signed account.updated webhook saying the account is ready finishes the onboarding without the provider coming back", async () => {
    const { ctx, operator } = s;
    const owner = await makeUser(ctx.deps, { role: 'provider', email: `provider+${PENDING_PAYOUT_EMAIL_MARKER}-${randomUUID()}@example.test` });
    const id = await onboard(ctx, owner);
    const pending = await payoutAccount(ctx, id, owner.auth);
    expect(pending.body.status).toBe('pending');
    expect((await ctx.http.post(`/v1/operator/providers/${id}/approve`).set('Authorization', operator.auth).send({})).status).toBe(200);

    // Delivered through the signed webhook endpoint, as Stripe would.
    expect((await accountUpdated(ctx, pending.body.account_id, false)).status).toBe(200);
    expect(await ctx.deps.db('providers').where({ id }).first('payout_status')).toEqual({ payout_status: 'pending' });
    expect((await accountUpdated(ctx, pending.body.account_id, true)).status).toBe(200);
    expect(await (await handle(ctx, id)).result()).toEqual({ status: 'active' });
    expect(await ctx.deps.db('providers').where({ id }).first('payout_status')).toEqual({ payout_status: 'ready' });
    // A stale "pending" after "ready" changes nothing; an account that is not ours is not acted on.
    expect((await accountUpdated(ctx, pending.body.account_id, false)).status).toBe(200);
    expect(await ctx.deps.db('providers').where({ id }).first('payout_status')).toEqual({ payout_status: 'ready' });
    expect(await payoutAccountReported(ctx.deps, { id: 'acct_not_ours', status: 'ready' })).toBe(false);
  });

  it("is the owner's: another provider gets 404, a backer 403", async () => {
    const { ctx } = s;
    const owner = await makeUser(ctx.deps, { role: 'provider' });
    const id = await onboard(ctx, owner);
    expectProblem(await payoutAccount(ctx, id, (await makeUser(ctx.deps, { role: 'provider' })).auth), 404, 'not_found');
    expectProblem(await payoutAccount(ctx, id, (await makeUser(ctx.deps)).auth), 403, 'forbidden');
    expectProblem(await payoutAccount(ctx, randomUUID(), owner.auth), 404, 'not_found');
    expect(await ctx.deps.db('providers').where({ id }).first('payout_status', 'payout_account_id')).toEqual({ payout_status: 'missing', payout_account_id: null });
  });
});

describe('onboarding while Temporal is unreachable', () => {
  it('answers 503 naming temporal and creates no provider (no row without its workflow)', async () => {
    const deps = createTestDeps(testConfig({ TEMPORAL_UPDATE_TIMEOUT: '2s' }));
    await deps.temporal.close();
    deps.temporal = new TemporalClientProvider('127.0.0.1:1', 'default');
    try {
      const owner = await makeUser(deps, { role: 'provider' });
      const res = await supertest(createApp(deps)).post('/v1/providers/onboard').set('Authorization', owner.auth).send(onboardBody);
      expectProblem(res, 503, 'dependency_unavailable');
      expect(res.body.dependency).toBe('temporal');
      expect(await deps.db('providers').where({ user_id: owner.id }).first()).toBeUndefined();
    } finally {
      await closeDeps(deps);
    }
  });
});
