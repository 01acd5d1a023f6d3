import { randomUUID } from 'node:crypto';
import { ensureSearchAttributes } from '../../src/temporal/client';
import { platformSearchAttributes } from '../../src/temporal/searchAttributes';
import { paymentsTaskQueue } from '../../src/temporal/taskQueues';
import { ensureSchedules } from '../../src/workers/schedules';
import { createTestContext, startTestWorker, type TestContext } from '../helpers/context';
import { eventually } from '../helpers/wait';

describe('worker wiring', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  beforeAll(async () => {
    ctx = createTestContext();
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx.close();
  });

  it('registers every platform search attribute on the namespace', async () => {
    const connection = await ctx.deps.temporal.connection();
    await ensureSearchAttributes(connection, ctx.deps.config.TEMPORAL_NAMESPACE);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: ctx.deps.config.TEMPORAL_NAMESPACE });
    for (const key of platformSearchAttributes) expect(Object.keys(customAttributes ?? {})).toContain(key.name);
    // A second call finds nothing missing.
    expect(await ensureSearchAttributes(connection, ctx.deps.config.TEMPORAL_NAMESPACE)).toEqual([]);
  });

  it('polls both the main and the rate-limited payments task queue', async () => {
    const connection = await ctx.deps.temporal.connection();
    const namespace = ctx.deps.config.TEMPORAL_NAMESPACE;
    const pollers = async (name: string, taskQueueType: number) =>
      (await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType })).pollers ?? [];
    // Pollers show up a moment after the workers start.
    await eventually(async () => (await pollers(ctx.deps.config.TASK_QUEUE, 1)).length > 0, 15_000, 'workflow pollers on the main queue', 200);
    await eventually(async () => (await pollers(paymentsTaskQueue(ctx.deps.config.TASK_QUEUE), 2)).length > 0, 15_000, 'activity pollers on the payments queue', 200);
    expect((await pollers(paymentsTaskQueue(ctx.deps.config.TASK_QUEUE), 2))[0]?.ratePerSecond).toBeGreaterThan(0);
  });

  it('creates the maintenance and reconciliation schedules once and leaves existing ones alone', async () => {
    const client = await ctx.deps.temporal.client();
    const first = await ensureSchedules(client, ctx.deps.config);
    expect(first).toEqual([`${ctx.deps.config.TASK_QUEUE}:maintenance-purge`, `${ctx.deps.config.TASK_QUEUE}:commerce-reconcile`, `${ctx.deps.config.TASK_QUEUE}:bookings-reconcile`, `${ctx.deps.config.TASK_QUEUE}:payouts`, `${ctx.deps.config.TASK_QUEUE}:close-fee-invoices`, `${ctx.deps.config.TASK_QUEUE}:billing-reconcile`]);
    const handle = client.schedule.getHandle(first[0]!);
    await handle.pause('operator pause must survive a redeploy');
    expect(await ensureSchedules(client, ctx.deps.config)).toEqual([]);
    expect((await handle.describe()).state.paused).toBe(true);
    const reconcile = await client.schedule.getHandle(first[1]!).describe();
    expect(reconcile.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileCommerce' });
    expect((await client.schedule.getHandle(first[2]!).describe()).action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileBookings' });
    for (const id of first) await client.schedule.getHandle(id).delete();
  });

  it('purges expired idempotency keys through the maintenance workflow and keeps live ones', async () => {
    const scope = `user:${randomUUID()}`;
    const row = (key: string, expiresIn: string) => ({
      scope,
      key,
      fingerprint: 'f',
      state: 'completed',
      response_status: 200,
      response_body: JSON.stringify({ ok: true }),
      expires_at: ctx.deps.db.raw(`now() + interval '${expiresIn}'`),
    });
    await ctx.deps.db('idempotency_keys').insert([row('expired', '-1 minute'), row('live', '23 hours')]);
    const client = await ctx.deps.temporal.client();
    const result = await client.workflow.execute('purgeExpiredRecords', {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `${ctx.deps.config.TASK_QUEUE}:maintenance-purge-test`,
    });
    expect(result.idempotencyKeysPurged).toBeGreaterThanOrEqual(1);
    const left = await ctx.deps.db('idempotency_keys').where({ scope }).pluck('key');
    expect(left).toEqual(['live']);
  });
});
