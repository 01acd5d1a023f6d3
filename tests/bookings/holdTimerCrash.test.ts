import { bookingStateQuery, bookingWorkflowId } from '../../src/bookings/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { makeProvider, makeService } from './fixtures';
import { holdSlot, localStart } from './holdHelpers';

/**
 * A hold's timer survives its worker: the worker running the hold's `booking:<id>` workflow is a separate OS
 * process, SIGKILLed while the workflow sleeps on the hold's timer; a new worker starts, and the hold is released
 * at its end by that same workflow run, the customer told.
 */
const TTL = '10s';

describe('slot hold timer across a worker crash', () => {
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;

  beforeAll(() => {
    ctx = createTestContext(testConfig({ SLOT_HOLD_TTL: TTL }));
  });
  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await worker?.stop();
    await ctx?.close();
  });

  it('releases a hold at its end after the worker sleeping on its timer was killed', async () => {
    const { config, db } = ctx.deps;
    child = startWorkerProcess(config, { settings: { SLOT_HOLD_TTL: TTL, LOG_LEVEL: 'info' } });
    await child.waitFor('worker running', 90_000);

    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const held = await holdSlot(ctx, customer, service, localStart(provider.timeZone, 2, 10));
    expect(held.status).toBe(201);
    const id = held.body.id as string;
    const expiresAt = Date.parse(held.body.expires_at);

    // The child runs the workflow and leaves it asleep on the hold's timer.
    const handle = (await ctx.deps.temporal.client()).workflow.getHandle(bookingWorkflowId(id));
    await eventually(async () => (await handle.query(bookingStateQuery)).nextTimerAt, 20_000, 'the hold timer set by the first worker');
    const runId = (await handle.describe()).runId;

    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    child = undefined;
    expect((await db('bookings').where({ id }).first('status')).status).toBe('held');
    expect(Date.now()).toBeLessThan(expiresAt);

    worker = await startTestWorker(ctx.deps);
    expect((await handle.result()).status).toBe('expired');
    const row = (await db('bookings').where({ id }).first('status', 'hold_expires_at', 'ended_at')) as { status: string; hold_expires_at: Date; ended_at: Date };
    expect(row.status).toBe('expired');
    // Released at its end, not before (Postgres' clock both times), by the run that was asleep when its worker died.
    expect(row.ended_at.getTime()).toBeGreaterThanOrEqual(row.hold_expires_at.getTime());
    expect((await handle.describe()).runId).toBe(runId);
    const notices = await db('notifications').where({ user_id: customer.id, type: 'booking_hold_expired' }).count<{ count: string }[]>('* as count');
    expect(Number(notices[0]!.count)).toBe(1);
  }, 150_000);
});
