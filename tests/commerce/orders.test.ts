import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { createStore, createVariant, inventoryOf, placeOrder } from './fixtures';

/** Order management: the status path with history, illegal transitions, cancel = refund + restock, tenancy, list. */
describe('orders', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let owner: TestUser;
  let storeId: string;

  const variant = (stock: number, price?: number) => createVariant(ctx, owner, storeId, stock, price);
  const inventory = (v: string) => inventoryOf(ctx, v);

  async function order(lines: Array<[string, number]>): Promise<{ id: string; total_cents: number }> {
    const placed = await placeOrder(ctx, await makeUser(ctx.deps), storeId, lines);
    expect(placed.status).toBe('confirmed');
    return placed;
  }
  const setStatus = (orderId: string, body: object, auth = owner.auth) =>
    ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', auth).send(body);
  const history = (orderId: string) =>
    ctx.deps.db('order_status_history').where({ order_id: orderId }).orderBy('id').select('from_status', 'to_status', 'actor', 'reason');

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    worker = await startTestWorker(ctx.deps);
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = await createStore(ctx, owner, 'Orders');
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  it('walks confirmed → processing → shipped → delivered, one history row per step with actor and reason', async () => {
    const v = await variant(5);
    const o = await order([[v, 1]]);
    for (const [status, reason] of [
      ['processing', 'packing'],
      ['shipped', 'DHL 123'],
      ['delivered', undefined],
    ] as const) {
      const res = await setStatus(o.id, reason ? { status, reason } : { status });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
    }
    const rows = await history(o.id);
    expect(rows).toHaveLength(5);
    expect(rows.slice(1)).toEqual([
      { from_status: 'pending', to_status: 'confirmed', actor: 'system', reason: 'payment authorized' },
      { from_status: 'confirmed', to_status: 'processing', actor: owner.id, reason: 'packing' },
      { from_status: 'processing', to_status: 'shipped', actor: owner.id, reason: 'DHL 123' },
      { from_status: 'shipped', to_status: 'delivered', actor: owner.id, reason: null },
    ]);
    expect((await ctx.http.get(`/v1/orders/${o.id}`).set('Authorization', owner.auth)).body.status).toBe('delivered');
    // Delivered is final; a delivered (or shipped) order cannot be cancelled.
    expectProblem(await setStatus(o.id, { status: 'cancelled' }), 409, 'illegal_transition');
  });

  it('refuses a skipped step with 409 and changes nothing', async () => {
    const v = await variant(5);
    const o = await order([[v, 2]]);
    const before = await history(o.id);
    const res = await setStatus(o.id, { status: 'delivered' });
    expectProblem(res, 409, 'illegal_transition');
    expect(res.body).toMatchObject({ from: 'confirmed', to: 'delivered' });
    expect((await ctx.deps.db('orders').where({ id: o.id }).first('status')).status).toBe('confirmed');
    expect(await history(o.id)).toEqual(before);

    // A shipped order cannot be cancelled.
    expect((await setStatus(o.id, { status: 'processing' })).status).toBe(200);
    expect((await setStatus(o.id, { status: 'shipped' })).status).toBe(200);
    expectProblem(await setStatus(o.id, { status: 'cancelled' }), 409, 'illegal_transition');
    expect(await inventory(v)).toMatchObject({ sold: 2 });
  });

  it('cancels a confirmed order: refunded at the gateway, restocked, history row; cancelling again is 409', async () => {
    const v = await variant(10, 2_000);
    const o = await order([[v, 3]]);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 3 });
    // The checkout captures after answering: this is the cancellation of a paid order.
    const { payment_key: paymentKey } = await ctx.deps.db('orders').where({ id: o.id }).first('payment_key');
    await eventually(async () => (await ctx.deps.db('payments').where({ business_key: paymentKey }).first('status'))?.status === 'succeeded', 20_000, 'the capture');

    const res = await setStatus(o.id, { status: 'cancelled', reason: 'customer asked' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');

    const { payment_key } = await ctx.deps.db('orders').where({ id: o.id }).first('payment_key');
    const [intent] = await ctx.deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [payment_key]).select('captured_cents', 'refunded_cents');
    expect(Number(intent.refunded_cents)).toBe(6_000);
    expect(Number(intent.captured_cents)).toBe(6_000);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    expect((await history(o.id)).at(-1)).toEqual({ from_status: 'confirmed', to_status: 'cancelled', actor: owner.id, reason: 'customer asked' });

    // Cancelled is final: a second cancel is 409 and neither refunds nor restocks again.
    const again = await setStatus(o.id, { status: 'cancelled' });
    expectProblem(again, 409, 'illegal_transition');
    expect(again.body).toMatchObject({ from: 'cancelled', to: 'cancelled' });
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    expect(await history(o.id)).toHaveLength(3);
  });

  it('hides orders from other merchants (404) and validates the body', async () => {
    const v = await variant(5);
    const o = await order([[v, 1]]);
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    expectProblem(await setStatus(o.id, { status: 'processing' }, other.auth), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/stores/${storeId}/orders`).set('Authorization', other.auth), 404, 'not_found');
    expectProblem(await setStatus(randomUUID(), { status: 'processing' }), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/stores/${randomUUID()}/orders`).set('Authorization', owner.auth), 404, 'not_found');
    expect((await ctx.deps.db('orders').where({ id: o.id }).first('status')).status).toBe('confirmed');

    for (const body of [{ status: 'pending' }, { status: 'confirmed' }, { status: 'processing', extra: 1 }, { status: 'processing', reason: 'x'.repeat(501) }, {}]) {
      expectProblem(await setStatus(o.id, body), 400, 'validation_failed');
    }
    expect((await ctx.http.post(`/v1/orders/${o.id}/status`).send({ status: 'processing' })).status).toBe(401);
  });

  it('lists the store’s orders newest first, filtered by status, with keyset pagination', async () => {
    const v = await variant(20);
    const a = await order([[v, 1]]);
    const b = await order([[v, 1]]);
    expect((await setStatus(b.id, { status: 'processing' })).status).toBe(200);

    const processing = await ctx.http.get(`/v1/stores/${storeId}/orders?status=processing`).set('Authorization', owner.auth);
    expect(processing.status).toBe(200);
    expect(processing.body.data.every((x: { status: string }) => x.status === 'processing')).toBe(true);
    expect(processing.body.data.map((x: { id: string }) => x.id)).toContain(b.id);
    expect(processing.body.data.map((x: { id: string }) => x.id)).not.toContain(a.id);

    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: Array<{ id: string }>; next_cursor: string | null } } = await ctx.http
        .get(`/v1/stores/${storeId}/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set('Authorization', owner.auth);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      all.push(...page.body.data.map((x) => x.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    const total = Number((await ctx.deps.db('orders').where({ store_id: storeId }).count<{ count: string }[]>('* as count'))[0]!.count);
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    expect(all.indexOf(b.id)).toBeLessThan(all.indexOf(a.id));
    expectProblem(await ctx.http.get(`/v1/stores/${storeId}/orders?status=lost`).set('Authorization', owner.auth), 400, 'validation_failed');
  });
});
