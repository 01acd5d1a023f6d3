import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createTestContext, createTestDeps, closeDeps, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { dropWorkflowInput, loadDrop } from '../../src/drops/repository';
import { makeUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { createDrop, dropShop, waitForDropStatus, type DropShop } from './fixtures';
import { DROP_WORKFLOW, type DropWorkflow, dropWorkflowId } from '../../src/drops/contract';

/** Drop creation and reads: owner only, validated, workflow `drop:<id>` started with its search attributes. */
describe('drops API', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 100);
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  const post = (body: Record<string, unknown>, auth = shop.owner.auth, storeId = shop.storeId) =>
    ctx.http.post(`/v1/stores/${storeId}/drops`).set('Authorization', auth).send(body);
  const soon = (s: number) => new Date(Date.now() + s * 1000).toISOString();

  it('creates a drop with the seed commitment (never the seed) and GET shows it', async () => {
    const drop = await createDrop(ctx, shop, { quantity: 7, opensIn: 60, claimWindowSeconds: 30 });
    expect(drop).toMatchObject({ store_id: shop.storeId, variant_id: shop.variantId, mode: 'lottery', status: 'scheduled', quantity: 7, sold: 0, remaining: 7, price_cents: 5_000, currency: 'EUR', claim_window_seconds: 30, entries_hash: null, entries_count: 0 });
    expect(drop.seed_commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(drop).not.toHaveProperty('seed');
    const { seed } = await ctx.deps.db('drops').where({ id: drop.id }).first('seed');
    expect(createHash('sha256').update(seed).digest('hex')).toBe(drop.seed_commitment);

    const got = await ctx.http.get(`/v1/drops/${drop.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(drop);
  });

  it('starts workflow drop:<id> with DropId, StoreId and Status, which opens the drop at opens_at', async () => {
    const drop = await createDrop(ctx, shop, { mode: 'fcfs', opensIn: 1, closesIn: null });
    const handle = (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${drop.id}`);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get({ name: 'DropId', type: 'KEYWORD' } as never)).toBe(drop.id);
    expect(described.typedSearchAttributes.get({ name: 'StoreId', type: 'KEYWORD' } as never)).toBe(shop.storeId);
    await waitForDropStatus(ctx, drop.id, 'open', 15_000);
    await eventually(async () => (await handle.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never) === 'open', 10_000, 'Status open');
  });

  it("answers 404 to another store's owner and to an unknown variant; 403 to a non-merchant", async () => {
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    const body = { variant_id: shop.variantId, quantity: 1, mode: 'lottery', opens_at: soon(10), closes_at: soon(20) };
    expectProblem(await post(body, other.auth), 404, 'not_found');
    expectProblem(await post({ ...body, variant_id: randomUUID() }), 404, 'not_found');
    const otherShop = await dropShop(ctx, 1);
    expectProblem(await post({ ...body, variant_id: otherShop.variantId }), 404, 'not_found');
    expectProblem(await post(body, (await makeUser(ctx.deps)).auth), 403, 'forbidden');
    expectProblem(await ctx.http.get(`/v1/drops/${randomUUID()}`), 404, 'not_found');
  });

  it('refuses bad input with 400', async () => {
    const ok = { variant_id: shop.variantId, quantity: 1, mode: 'lottery', opens_at: soon(10), closes_at: soon(20) };
    for (const bad of [
      { ...ok, quantity: 0 },
      { ...ok, quantity: 1.5 },
      { ...ok, mode: 'auction' },
      { ...ok, closes_at: undefined },
      { ...ok, closes_at: soon(5) },
      { ...ok, opens_at: soon(-20), closes_at: soon(-10) },
      { ...ok, opens_at: 'tomorrow' },
      { ...ok, claim_window_seconds: 0 },
      { ...ok, price_cents: -1 },
      { ...ok, variant_id: 'x' },
      { ...ok, extra: true },
    ]) {
      expectProblem(await post(bad), 400, 'validation_failed');
    }
    expectProblem(await ctx.http.get('/v1/drops/not-a-uuid'), 400, 'validation_failed');
  });

  /** Starts `drop:<id>` by hand, as the creating request does, for a drop id whose row may not exist. */
  async function startDrop(dropId: string, rowGraceMs: number, taskQueue = ctx.deps.config.TASK_QUEUE, row?: Parameters<typeof dropWorkflowInput>[0]) {
    const input = row
      ? dropWorkflowInput(row)
      : { dropId, storeId: shop.storeId, variantId: shop.variantId, mode: 'lottery' as const, quantity: 1, priceCents: 100, currency: 'EUR', opensAt: soon(1), closesAt: soon(3), claimWindowSeconds: 5, admissionPerSecond: 10 };
    return (await ctx.deps.temporal.client()).workflow.start<DropWorkflow>(DROP_WORKFLOW, { workflowId: dropWorkflowId(dropId), taskQueue, args: [{ ...input, rowGraceMs }] });
  }
  const pendingDropPhase = async (handle: Awaited<ReturnType<typeof startDrop>>) =>
    (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'dropPhase');

  it('waits for a drop row committed after the start, and ends once a missing row is past the grace (DropNotFound)', async () => {
    // The creating request's transaction, committed a few seconds after the workflow started.
    const trx = await ctx.deps.db.transaction();
    const seed = randomBytes(32).toString('hex');
    const [{ id }] = await trx('drops')
      .insert({ store_id: shop.storeId, variant_id: shop.variantId, created_by: shop.owner.id, mode: 'lottery', quantity: 1, price_cents: 100, currency: 'EUR', opens_at: new Date(), closes_at: new Date(Date.now() + 4_000), seed, seed_commitment: createHash('sha256').update(seed).digest('hex') })
      .returning('id');
    const late = await startDrop(id, 60_000, undefined, (await loadDrop(trx, id))!);
    await eventually(async () => ((await pendingDropPhase(late))?.attempt ?? 0) >= 3, 15_000, 'dropPhase retried while the row is uncommitted');
    await trx.commit();
    await waitForDropStatus(ctx, id, ['drawing', 'claiming', 'closed'], 20_000);

    // A row that never commits: the workflow ends after the grace instead of waiting forever.
    const missing = await startDrop(randomUUID(), 1_000);
    await missing.result();
    expect((await missing.describe()).status.name).toBe('COMPLETED');
  }, 60_000);

  it('keeps retrying while the database cannot be read, however long past the grace', async () => {
    // A worker whose database is unreachable, on its own task queue.
    const deadDeps = createTestDeps(testConfig({ DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:1/none' }));
    const dead = await startTestWorker(deadDeps);
    const startedAt = Date.now();
    const handle = await startDrop(randomUUID(), 500, deadDeps.config.TASK_QUEUE);
    try {
      // Still retrying (5 attempts or more) once four times the grace has passed.
      await eventually(async () => Date.now() - startedAt > 2_000 && ((await pendingDropPhase(handle))?.attempt ?? 0) >= 5, 40_000, 'dropPhase retried');
      expect(Date.now() - startedAt).toBeGreaterThan(2_000);
      const pending = (await pendingDropPhase(handle))!;
      expect(pending.lastFailure?.message).not.toMatch(/still missing/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
    } finally {
      await handle.terminate('test over').catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
      await dead.stop();
      await closeDeps(deadDeps);
    }
  }, 60_000);
});
