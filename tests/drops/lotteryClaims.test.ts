import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { type CheckoutInput, checkoutWorkflowId } from '../../src/commerce/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { claim, claimAddress, createDrop, dropShop, inBatches, lotteryHelpers, waitForDropStatus, type DropShop, type LotteryHelpers } from './fixtures';
import { inventoryOf } from '../commerce/fixtures';
import { holdLock, waitUntilBlocked } from '../commerce/checkoutLocks';

/**
 * The lottery's claim phase, driven through the API with windows of seconds: claims make one order each through
 * the checkout saga (double clicks and retries make one), declined cards keep the window, unclaimed wins expire
 * and the waitlist is promoted in rank order until every unit is sold or nobody is left.
 */
describe('lottery drop: claims, expiries and promotions', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;
  let drawnLottery: LotteryHelpers['drawnLottery'], entryOf: LotteryHelpers['entryOf'], statuses: LotteryHelpers['statuses'];
  let told: LotteryHelpers['told'], claimOk: LotteryHelpers['claimOk'], claimWhenWon: LotteryHelpers['claimWhenWon'];

  beforeAll(async () => {
    // A payment step timeout of its own, so the claim's checkout can be seen to take it from configuration.
    ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000', PAYMENT_STEP_TIMEOUT: '97s' }));
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 100, 4_000);
    ({ drawnLottery, entryOf, statuses, told, claimOk, claimWhenWon } = lotteryHelpers(ctx, shop));
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  it('expires unclaimed wins and promotes the waitlist in rank order until all 20 units are sold', async () => {
    const stockBefore = await inventoryOf(ctx, shop.variantId);
    const { drop, entrants } = await drawnLottery(40, 20, 12);
    const winners = entrants.slice(0, 20);
    const skip = new Set([3, 7, 11, 15, 19]);

    // A double click under two Idempotency-Keys: one order, one capture.
    const [a, b] = await Promise.all([claim(ctx, drop.id, winners[0]!.auth), claim(ctx, drop.id, winners[0]!.auth)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).toBe(b.body.id);
    expect(a.body).toMatchObject({ status: 'confirmed', total_cents: 3_000, customer_id: winners[0]!.userId });
    // And a retry later with yet another key answers with the same order.
    expect((await claim(ctx, drop.id, winners[0]!.auth)).body.id).toBe(a.body.id);

    await inBatches(winners.slice(1).filter((e) => !skip.has(e.rank)), 5, (e) => claimOk(drop.id, e));
    expect((await entryOf(drop.id, winners[2]!)).status).toBe('won');

    // Ranks 21-25 are promoted into the five freed units; 22 and 24 let their windows pass too, so 26 and 27 follow.
    const secondSkip = new Set([22, 24]);
    await inBatches(entrants.slice(20, 25).filter((e) => !secondSkip.has(e.rank)), 3, (e) => claimWhenWon(drop.id, e));
    await inBatches(entrants.slice(25, 27), 2, (e) => claimWhenWon(drop.id, e));

    const done = await waitForDropStatus(ctx, drop.id, 'sold_out', 30_000);
    expect(done).toMatchObject({ sold: 20, remaining: 0 });
    const handle = (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${drop.id}`);
    await eventually(async () => (await handle.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never) === 'sold_out', 10_000, 'Status sold_out');
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain('**Phase:** sold_out');
    expect(metadata.currentDetails).toContain('**Claimed:** 20 of 20; **remaining:** 0');

    const rows = await statuses(drop.id);
    const byRank = (r: number) => rows[r - 1]!;
    const expired = [...skip, ...secondSkip].sort((x, y) => x - y);
    expect(rows.filter((r) => r.status === 'expired').map((r) => r.rank)).toEqual(expired);
    expect(rows.filter((r) => r.status === 'claimed').map((r) => r.rank)).toEqual(
      Array.from({ length: 27 }, (_, i) => i + 1).filter((r) => !expired.includes(r)),
    );
    expect(rows.filter((r) => r.status === 'lost').map((r) => r.rank)).toEqual(Array.from({ length: 13 }, (_, i) => i + 28));
    // Promotions went in rank order: 21-25 together, then 26 and 27 once 22 and 24 had expired.
    expect(rows.filter((r) => r.promoted_at).map((r) => r.rank)).toEqual([21, 22, 23, 24, 25, 26, 27]);
    expect(byRank(26).promoted_at!.getTime()).toBeGreaterThan(byRank(25).promoted_at!.getTime());
    expect(byRank(21).promoted_at!.getTime()).toBeGreaterThanOrEqual(byRank(3).claim_expires_at!.getTime());

    // 20 orders, 20 units sold (drop and inventory), one captured payment per order.
    const orders = (await ctx.deps.db('orders').where('checkout_key', 'like', `drop:${drop.id}:claim:%`).select('id', 'status', 'total_cents')) as Array<{ id: string; status: string }>;
    expect(orders).toHaveLength(20);
    expect(new Set(rows.filter((r) => r.order_id).map((r) => r.order_id))).toEqual(new Set(orders.map((o) => o.id)));
    // Exactly 20 more sold, no unit left held (the variant's other units stay on sale).
    await eventually(async () => (await inventoryOf(ctx, shop.variantId)).reserved === stockBefore.reserved, 10_000, 'every hold committed or released');
    expect(await inventoryOf(ctx, shop.variantId)).toEqual({ ...stockBefore, sold: stockBefore.sold + 20 });
    const captures = await ctx.deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' like ?", [`checkout:drop:${drop.id}:claim:%`]).select('status', 'captured_cents');
    expect(captures).toHaveLength(20);
    expect(captures.every((c: { captured_cents: string | number }) => Number(c.captured_cents) === 3_000)).toBe(true);

    // Everyone was told their outcome, once.
    await eventually(async () => (await told(drop.id)).drop_lost === 13, 15_000, 'losers told');
    expect(await told(drop.id)).toEqual({ drop_won: 20, drop_waitlisted: 20, drop_expired: 7, drop_promoted: 7, drop_lost: 13 });

    // A claim after the window: 410; from the waitlist's end: 409.
    expectProblem(await claim(ctx, drop.id, entrants[2]!.auth), 410, 'claim_expired');
    expectProblem(await claim(ctx, drop.id, entrants[39]!.auth), 409, 'not_a_winner');
    expect(await entryOf(drop.id, entrants[39]!)).toMatchObject({ status: 'lost' });
  }, 150_000);

  it("runs a claim's checkout with the configured timings, as a cart's checkout: PAYMENT_STEP_TIMEOUT and RESERVATION_TTL", async () => {
    const { drop, entrants } = await drawnLottery(1, 1, 30);
    const winner = entrants[0]!;
    const order = await claimOk(drop.id, winner);
    const { checkout_key } = (await ctx.deps.db('orders').where({ id: order.id }).first('checkout_key')) as { checkout_key: string };
    const saga = (await ctx.deps.temporal.client()).workflow.getHandle(checkoutWorkflowId(checkout_key));
    const started = (await saga.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
    const input = defaultPayloadConverter.fromPayload<CheckoutInput>(started.input!.payloads![0]!);
    expect(input).toMatchObject({ cartId: winner.entryId, dropId: drop.id, paymentStepMs: 97_000, holdMs: ctx.deps.config.RESERVATION_TTL });
  }, 60_000);

  it('closes (not sold out) once every window has passed and the waitlist is empty', async () => {
    const { drop, entrants } = await drawnLottery(3, 2, 2);
    const done = await waitForDropStatus(ctx, drop.id, 'closed', 30_000);
    expect(done).toMatchObject({ sold: 0, remaining: 2 });
    expect((await statuses(drop.id)).map((r) => [r.rank, r.status, r.promoted_at !== null])).toEqual([
      [1, 'expired', false],
      [2, 'expired', false],
      [3, 'expired', true],
    ]);
    expect(await told(drop.id)).toEqual({ drop_won: 2, drop_waitlisted: 1, drop_expired: 3, drop_promoted: 1 });
    expectProblem(await claim(ctx, drop.id, entrants[2]!.auth), 410, 'claim_expired');
  }, 60_000);

  it('closes a lottery nobody entered, with an empty published draw', async () => {
    const drop = await createDrop(ctx, shop, { quantity: 2, opensIn: 0, closesIn: 1 });
    await waitForDropStatus(ctx, drop.id, 'closed', 30_000);
    const draw = await ctx.http.get(`/v1/drops/${drop.id}/draw`);
    expect(draw.status).toBe(200);
    expect(draw.body).toMatchObject({ ranking: [], winners: [], entries_count: 0, seed_commitment: drop.seed_commitment });
  });

  it('keeps the window open after a declined card (402), with the unit given back, so another card can claim', async () => {
    const { drop, entrants } = await drawnLottery(2, 1, 30);
    const winner = entrants[0]!;
    const declined = await claim(ctx, drop.id, winner.auth, randomUUID(), { shipping_address: claimAddress, payment_method: 'pm_card_chargeDeclined' });
    expectProblem(declined, 402, 'payment_declined');
    expect(await ctx.deps.db('reservations').where({ cart_id: winner.entryId, status: 'held' }).first()).toBeUndefined();
    expect(await entryOf(drop.id, winner)).toMatchObject({ status: 'won' });

    const order = await claimOk(drop.id, winner); // the card saved at entry
    expect(await ctx.deps.db('orders').where('checkout_key', 'like', `drop:${drop.id}:claim:%`).pluck('id')).toEqual([order.id]);
    await waitForDropStatus(ctx, drop.id, 'sold_out', 20_000);
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['claimed', 'lost']);
  }, 60_000);

  it('refuses a claim that reaches its hold only after the window ended (410): the promoted entrant gets the unit', async () => {
    // A window of 10 s: long enough that the claim gets its first check in while the window is open, even on a loaded CI.
    const { drop, entrants } = await drawnLottery(2, 1, 10);
    const [late, next] = entrants;
    const stockBefore = await inventoryOf(ctx, shop.variantId);
    // The late claim passes its first check inside the window, then waits for the stock row past the window's
    // end, while the workflow expires the win and promotes rank 2.
    const lock = await holdLock(ctx.deps.db, 'SELECT 1 FROM inventory WHERE variant_id = ? FOR UPDATE', [shop.variantId]);
    let answer: Promise<Awaited<ReturnType<typeof claim>>> | undefined;
    try {
      answer = claim(ctx, drop.id, late!.auth).then((r) => r);
      await waitUntilBlocked(ctx.deps.db, lock, 'the late claim waits for the stock');
      await eventually(async () => (await entryOf(drop.id, next!)).status === 'won', 30_000, 'rank 2 promoted at the window end');
    } finally {
      await lock.release();
    }
    expectProblem(await answer!, 410, 'claim_expired');
    expect(await ctx.deps.db('reservations').where({ cart_id: late!.entryId, status: 'held' }).first()).toBeUndefined();

    await claimOk(drop.id, next!);
    await waitForDropStatus(ctx, drop.id, 'sold_out', 20_000);
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['expired', 'claimed']);
    expect(await ctx.deps.db('orders').where('checkout_key', 'like', `drop:${drop.id}:claim:%`).count('* as n').first()).toEqual({ n: 1 });
    expect(await inventoryOf(ctx, shop.variantId)).toEqual({ ...stockBefore, sold: stockBefore.sold + 1 });
  }, 90_000);

  it('takes more claims at once (different winners) than the API has database connections: every one sold', async () => {
    // An API with 3 connections (same token secret and task queue); the worker keeps its own pool.
    const { JWT_SECRET, TASK_QUEUE } = ctx.deps.config;
    const small = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000', DATABASE_POOL_MAX: '3', JWT_SECRET, TASK_QUEUE }));
    try {
      const { drop, entrants } = await drawnLottery(8, 8, 60);
      const stockBefore = await inventoryOf(ctx, shop.variantId);
      const answers = await Promise.all(entrants.map((e) => claim(small, drop.id, e.auth)));
      expect(answers.map((a) => a.status)).toEqual(entrants.map(() => 201));
      await waitForDropStatus(ctx, drop.id, 'sold_out', 20_000);
      expect((await statuses(drop.id)).map((r) => r.status)).toEqual(entrants.map(() => 'claimed'));
      expect(await inventoryOf(ctx, shop.variantId)).toEqual({ ...stockBefore, sold: stockBefore.sold + 8 });
    } finally {
      await small.close();
    }
  }, 90_000);
});
