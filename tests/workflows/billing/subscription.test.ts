import { Worker } from '@temporalio/worker';
import { subscriptionStateQuery, subscriptionWorkflowId } from '../../../src/billing/contract';
import { closeDeps, createTestDeps, startTestWorker, testConfig } from '../../helpers/context';
import { createApp } from '../../../src/api/app';
import supertest from 'supertest';
import { expectProblem } from '../../helpers/problems';
import { readTestEnvironment } from '../../helpers/testEnv';
import { eventually } from '../../helpers/wait';
import { historyEventTypes } from '../../helpers/workflowEnv';
import { ScriptedGateway } from '../../billing/scriptedGateway';
import { merchant, subscribe, subscriptionSettings, withTax, type Merchant } from '../../billing/subscriptionFixtures';
import type { TestContext } from '../../helpers/context';

/**
 * `subscription:<store>` with a real worker and real services, periods of a few seconds (SUBSCRIPTION_PERIOD) and a
 * retry schedule of seconds: each period invoiced and charged once across continue-as-new, a replay of its history
 * bills nothing, dunning (soft declines then paid, a hard decline never retried, retries exhausted), cancel at
 * period end. Declines come from a scripted simulated gateway (tests/billing/scriptedGateway.ts).
 */
const PERIOD_S = 3;
const RETRY = '2s,2s';

describe('storeSubscription workflow', () => {
  let ctx: TestContext;
  let gateway: ScriptedGateway;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  beforeAll(async () => {
    const deps = createTestDeps(testConfig(subscriptionSettings(PERIOD_S, RETRY)));
    gateway = new ScriptedGateway(deps.db);
    deps.payments = gateway;
    const app = createApp(deps);
    ctx = { deps, app, http: supertest.agent(app), close: () => closeDeps(deps) };
    worker = await startTestWorker(deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
  });

  const db = () => ctx.deps.db;
  const handleOf = async (m: Merchant) => (await ctx.deps.temporal.client()).workflow.getHandle(subscriptionWorkflowId(m.storeId));
  const periods = (m: Merchant) => db()('subscription_periods').where({ store_id: m.storeId }).orderBy('period_start');
  const periodCharges = (m: Merchant) => db()('subscription_charges').where({ store_id: m.storeId, kind: 'period' }).orderBy(['period_start', 'attempt']);
  const status = async (m: Merchant) => ((await db()('store_subscriptions').where({ store_id: m.storeId }).first('status')) as { status: string }).status;
  /** A second card (declining) saved to the owner's customer, which scripted declines are charged to. */
  const withFailingCard = async (m: Merchant) => {
    await gateway.savePaymentMethod({ idempotencyKey: `test-failing-card:${m.storeId}`, paymentMethod: 'pm_card_chargeCustomerFail', customerRef: m.owner.id });
  };

  it('bills each period once across continue-as-new, a replay bills nothing, and cancel at period end stops at the boundary', async () => {
    const m = await merchant(ctx);
    expect((await subscribe(ctx, m, 'small')).status).toBe(201);
    const handle = await handleOf(m);
    const firstRunId = (await handle.describe()).runId;
    await eventually(async () => (await periods(m)).filter((p) => p.status === 'paid').length >= 3, 30_000, 'three paid periods');

    const cancel = await ctx.http.delete(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth);
    expect(cancel.status).toBe(200);
    expect(cancel.body.cancel_at_period_end).toBe(true);
    expect(await handle.result()).toEqual({ status: 'canceled' });
    expect(await status(m)).toBe('canceled');

    const rows = await periods(m);
    // Every period that was opened was paid, contiguous, each with its own invoice.
    expect(rows.every((p) => p.status === 'paid')).toBe(true);
    for (let i = 1; i < rows.length; i++) expect(rows[i].period_start.getTime()).toBe(rows[i - 1].period_end.getTime());
    const invoices = await db()('invoices').whereIn('id', rows.map((p) => p.invoice_id));
    expect(invoices).toHaveLength(rows.length);
    expect(invoices.every((i) => i.status === 'finalized' && Number(i.total_cents) === withTax(3_000))).toBe(true);
    const charges = await periodCharges(m);
    expect(charges.map((c) => [c.attempt, c.status])).toEqual(rows.map(() => [1, 'paid']));
    const payments = await db()('payments').where('business_key', 'like', `subscription:${m.storeId}:%`).where({ kind: 'charge', status: 'succeeded' });
    expect(payments).toHaveLength(rows.length);
    // No invoice after the canceled boundary.
    const last = rows[rows.length - 1];
    expect(Date.parse((await db()('store_subscriptions').where({ store_id: m.storeId }).first()).canceled_at)).toBe(last.period_end.getTime());

    // The first run continued as new; replaying its history (and the last run's) runs no activity and is deterministic.
    expect(await historyEventTypes(await ctx.deps.temporal.client(), subscriptionWorkflowId(m.storeId), firstRunId)).toContain('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    const bundle = { codePath: readTestEnvironment().workflowBundlePath };
    for (const runId of [firstRunId, (await handle.describe()).runId]) {
      const history = await (await ctx.deps.temporal.client()).workflow.getHandle(subscriptionWorkflowId(m.storeId), runId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: bundle }, history);
    }
    expect(await db()('payments').where('business_key', 'like', `subscription:${m.storeId}:%`).where({ kind: 'charge', status: 'succeeded' })).toHaveLength(rows.length);
  }, 90_000);

  it('the carried credit of a downgrade comes off the next period invoices (a period it covers whole is paid without a charge)', async () => {
    const m = await merchant(ctx);
    expect((await subscribe(ctx, m, 'big')).status).toBe(201);
    const down = await ctx.http.patch(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth).send({ plan_id: 'small' });
    expect(down.status).toBe(200);
    const change = await db()('subscription_changes').where({ store_id: m.storeId }).first();
    const carried = Number(change.credit_carried_cents);
    expect(carried).toBe(Number(change.credit_cents) - Number(change.charge_cents));
    expect(down.body.credit_balance_cents).toBe(carried);
    await eventually(async () => (await periods(m)).filter((p) => p.status === 'paid').length >= 3, 30_000, 'three paid periods');
    await (await handleOf(m)).terminate('test over');

    const [, p2, p3] = await periods(m);
    const applied2 = Math.min(carried, 3_000);
    const applied3 = Math.min(carried - applied2, 3_000);
    expect([Number(p2.credit_applied_cents), Number(p2.amount_due_cents)]).toEqual([applied2, withTax(3_000 - applied2)]);
    expect([Number(p3.credit_applied_cents), Number(p3.amount_due_cents)]).toEqual([applied3, withTax(3_000 - applied3)]);
    for (const p of [p2, p3]) {
      const invoice = await db()('invoices').where({ id: p.invoice_id }).first();
      expect(Number(invoice.total_cents)).toBe(Number(p.amount_due_cents));
      const charged = await db()('payments').where('business_key', 'like', `subscription:${m.storeId}:${p.period_start.toISOString()}:%`);
      expect(charged.map((c) => Number(c.amount_cents))).toEqual(Number(p.amount_due_cents) === 0 ? [] : [Number(p.amount_due_cents)]);
    }
  }, 60_000);

  it('dunning: declines make it past_due (owner told, no new drops), a later retry pays and it is active again', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small');
    await withFailingCard(m);
    gateway.script(m.storeId, ['soft', 'soft']);
    const variant = await ctx.http.post(`/v1/stores/${m.storeId}/products`).set('Authorization', m.owner.auth).send({ name: 'Tee', base_price_cents: 1_000, status: 'active', inventory_count: 3 });
    await eventually(async () => (await status(m)) === 'past_due', 20_000, 'past_due');
    const drop = await ctx.http
      .post(`/v1/stores/${m.storeId}/drops`)
      .set('Authorization', m.owner.auth)
      .send({ variant_id: variant.body.variants[0].id, quantity: 1, mode: 'lottery', opens_at: new Date(Date.now() + 3_600_000).toISOString(), closes_at: new Date(Date.now() + 7_200_000).toISOString() });
    expectProblem(drop, 409, 'subscription_past_due');

    const handle = await handleOf(m);
    await eventually(async () => (await periodCharges(m)).some((c) => c.attempt === 3 && c.status === 'paid'), 20_000, 'the third attempt paid');
    await eventually(async () => (await status(m)) === 'active', 10_000, 'active again');
    const firstStart = (await periods(m))[0].period_start.getTime();
    const second = (await periodCharges(m)).filter((c) => c.period_start.getTime() !== firstStart);
    expect(second.slice(0, 3).map((c) => [c.attempt, c.status, c.decline_code])).toEqual([
      [1, 'declined', 'generic_decline'],
      [2, 'declined', 'generic_decline'],
      [3, 'paid', null],
    ]);
    const notices = await db()('notifications').where({ user_id: m.owner.id, type: 'subscription_past_due' }).orderBy('created_at');
    expect(notices).toHaveLength(2);
    expect((await handle.query(subscriptionStateQuery)).status).toBe('active');
    await handle.terminate('test over');
  }, 60_000);

  it('a hard decline is never retried: unpaid at once, the owner told, the workflow ends', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small');
    await withFailingCard(m);
    gateway.script(m.storeId, ['hard']);
    const handle = await handleOf(m);
    await eventually(async () => (await status(m)) === 'unpaid', 20_000, 'unpaid');
    expect(await handle.result()).toEqual({ status: 'unpaid' });
    const charges = await periodCharges(m);
    expect(charges.map((c) => [c.attempt, c.status, c.decline_code, c.hard_decline])).toEqual([
      [1, 'paid', null, false],
      [1, 'declined', 'lost_card', true],
    ]);
    expect(await db()('notifications').where({ user_id: m.owner.id, type: 'subscription_unpaid' })).toHaveLength(1);
    expect(await db()('notifications').where({ user_id: m.owner.id, type: 'subscription_past_due' })).toHaveLength(0);
    // Unpaid: DELETE ends it now.
    const del = await ctx.http.delete(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth);
    expect(del.body.status).toBe('canceled');
  }, 60_000);

  it('every retry declined: past_due after each of them, unpaid after the last (attempts = retries + 1)', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small');
    await withFailingCard(m);
    gateway.script(m.storeId, ['soft', 'soft', 'soft']);
    const handle = await handleOf(m);
    expect(await handle.result()).toEqual({ status: 'unpaid' });
    const charges = (await periodCharges(m)).slice(1);
    expect(charges.map((c) => [c.attempt, c.status])).toEqual([
      [1, 'declined'],
      [2, 'declined'],
      [3, 'declined'],
    ]);
    expect(await db()('notifications').where({ user_id: m.owner.id, type: 'subscription_past_due' })).toHaveLength(2);
    expect(await db()('notifications').where({ user_id: m.owner.id, type: 'subscription_unpaid' })).toHaveLength(1);
    expect((await periods(m)).map((p) => p.status)).toEqual(['paid', 'unpaid']);
  }, 60_000);
});
