import { randomUUID } from 'node:crypto';
import { subscriptionChargeKey } from '../../../src/billing/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../../helpers/context';
import { eventually } from '../../helpers/wait';
import { startWorkerProcess, type Running } from '../../startup/processHelpers';
import { holdLock, waitUntilBlocked } from '../../commerce/checkoutLocks';
import { merchant, subscribe, subscriptionSettings } from '../../billing/subscriptionFixtures';

/**
 * A worker process is SIGKILLed in the middle of a period's charge: the charge's payments row is written and the
 * gateway call is stopped by a lock the test holds on the charge's idempotency key at the (simulated) provider, so
 * the kill lands at the same step every run. A new worker retries the step under the same business key
 * (`subscription:<store>:<period start>:1`): one payment, one provider intent, the period paid once.
 */
const CHILD_APP = `subscription-crash-${randomUUID().slice(0, 8)}`;
const PERIOD_S = 6;

describe('subscription charge across a worker crash', () => {
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  const settings = { ...subscriptionSettings(PERIOD_S, '2s'), PAYMENT_STEP_TIMEOUT: '4s' };

  beforeAll(() => {
    ctx = createTestContext(testConfig(settings));
  });
  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await worker?.stop();
    await ctx?.close();
  });

  it('charges the period once after the worker charging it was killed', async () => {
    const db = ctx.deps.db;
    child = startWorkerProcess(ctx.deps.config, { appName: CHILD_APP, settings: { ...settings, LOG_LEVEL: 'info' } });
    await child.waitFor('worker running', 90_000);

    const m = await merchant(ctx);
    const sub = await subscribe(ctx, m, 'small');
    expect(sub.status).toBe(201);
    const second = new Date(sub.body.current_period_end);
    const key = subscriptionChargeKey(m.storeId, second, 1);
    // The provider's claim of this key waits for us: the charge stops mid-call.
    const lock = await holdLock(db, `INSERT INTO sim_idempotency_keys (key, operation, request_hash) VALUES (?, 'lock', 'lock')`, [key]);
    try {
      await waitUntilBlocked(db, lock, 'the period charge at the provider', { applicationName: CHILD_APP, timeoutMs: 30_000 });
      expect(await db('payments').where({ business_key: key }).first('status')).toEqual({ status: 'pending' });
      child.child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      child = undefined;
    } finally {
      await lock.release();
    }

    worker = await startTestWorker(ctx.deps);
    await eventually(async () => (await db('subscription_periods').where({ store_id: m.storeId, period_start: second }).first('status'))?.status === 'paid', 60_000, 'the second period paid');
    const payments = await db('payments').where({ business_key: key });
    expect(payments.map((p) => p.status)).toEqual(['succeeded']);
    const intents = await db('sim_payment_intents').whereRaw(`metadata->>'business_key' = ?`, [key]);
    expect(intents).toHaveLength(1);
    const charges = await db('subscription_charges').where({ store_id: m.storeId, period_start: second });
    expect(charges.map((c) => [c.attempt, c.status])).toEqual([[1, 'paid']]);
    expect(await db('payments').where('business_key', 'like', `subscription:${m.storeId}:${second.toISOString()}:%`)).toHaveLength(1);
  }, 150_000);
});
