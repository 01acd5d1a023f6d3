import { randomUUID } from 'node:crypto';
import { holdExpiryStateQuery, holdExpiryWorkflowId } from '../../src/commerce/contract';
import { holdShard } from '../../src/commerce/holdShards';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { ownDatabase } from './ownDatabase';

/**
 * A hold's timer survives its worker: the worker running the hold's sweeper is a separate OS process,
 * SIGKILLed while the hold is pending (the sweeper asleep on its timer); a new worker starts, and the hold is
 * released at its expiry by that same sweeper. On a database of its own, so no other test file's sweeper can
 * be the one that releases it.
 */
const TTL = '10s';

describe('hold expiry across a worker crash', () => {
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;

  beforeAll(async () => {
    database = await ownDatabase('holdcrash');
    ctx = createTestContext(testConfig({ RESERVATION_TTL: TTL, DATABASE_URL: database.url }));
  });
  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await worker?.stop();
    await ctx?.close();
    await database?.drop();
  });

  it('releases a hold at its expiry after the worker sleeping on its timer was killed', async () => {
    const { config, db } = ctx.deps;
    // The first worker is its own OS process; at startup it makes sure of the sweepers (bound: TTL / 2).
    child = startWorkerProcess(config, { settings: { RESERVATION_TTL: TTL, LOG_LEVEL: 'info' } });
    await child.waitFor('worker running', 90_000);

    const owner = await makeUser(ctx.deps, { role: 'merchant' });
    const store = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Crash', slug: `k-${randomUUID().slice(0, 8)}`, currency: 'EUR' });
    const product = await ctx.http
      .post(`/v1/stores/${store.body.id}/products`)
      .set('Authorization', owner.auth)
      .send({ name: 'Crash tee', base_price_cents: 2_000, inventory_count: 5 });
    const variantId = product.body.variants[0].id as string;
    const cart = await ctx.http.post('/v1/carts').send({ store_id: store.body.id });
    const added = await ctx.http.post(`/v1/carts/${cart.body.id}/items`).send({ variant_id: variantId, quantity: 2 });
    expect(added.status).toBe(200);
    const expiresAt = Date.parse(added.body.items[0].reserved_until);

    // The hold's sweeper, run by the child, asleep with a timer no later than the hold's end.
    const sweeperId = holdExpiryWorkflowId(config.TASK_QUEUE, holdShard(variantId, config.HOLD_EXPIRY_SHARDS));
    const sweeper = (await ctx.deps.temporal.client()).workflow.getHandle(sweeperId);
    const asleep = await eventually(async () => {
      const s = await sweeper.query(holdExpiryStateQuery);
      return s.nextWakeAt !== null && s;
    }, 10_000, 'the sweeper asleep');
    expect(Date.parse(asleep.nextWakeAt!)).toBeLessThanOrEqual(expiresAt + asleep.gatherMs);
    const runId = (await sweeper.describe()).runId;

    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    child = undefined;
    const inventory = () => db('inventory').where({ variant_id: variantId }).first('reserved') as Promise<{ reserved: number }>;
    expect(await inventory()).toEqual({ reserved: 2 });
    expect(Date.now()).toBeLessThan(expiresAt);

    worker = await startTestWorker(ctx.deps);
    await eventually(async () => (await inventory()).reserved === 0, 30_000, 'the hold released by the new worker');
    const row = (await db('reservations').where({ cart_id: cart.body.id }).first('status', 'expires_at', 'updated_at')) as { status: string; expires_at: Date; updated_at: Date };
    expect(row.status).toBe('released');
    // Released at its expiry, not before (Postgres' clock both times).
    expect(row.updated_at.getTime()).toBeGreaterThanOrEqual(row.expires_at.getTime());
    // By the sweeper that was asleep when its worker died (the same run, or its continuation; its count follows
    // once the activity's result is back in the workflow).
    await eventually(async () => (await sweeper.query(holdExpiryStateQuery)).released >= 1, 10_000, 'the sweeper to count the release');
    const after = await sweeper.describe();
    expect(after.status.name).toBe('RUNNING');
    expect(after.workflowId).toBe(sweeperId);
    expect([runId, after.runId]).toContain(after.runId);
    await eventually(async () => (await ctx.http.get(`/v1/carts/${cart.body.id}`)).body.items.length === 0, 5_000, 'the line to leave the cart');
  });
});
