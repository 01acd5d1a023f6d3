import { randomUUID } from 'node:crypto';
import { claimCheckoutKey, settleClaims } from '../../src/drops/lottery';
import { openHeldCart } from '../../src/commerce/heldCart';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { holdPaymentTwin, waitUntilBlocked } from '../commerce/checkoutLocks';
import { claim, claimAddress, dropShop, inBatches, lotteryHelpers, waitForDropStatus, type DropShop, type LotteryHelpers } from './fixtures';
import { CHECKOUT_WORKFLOW, type CheckoutWorkflow, checkoutWorkflowId } from '../../src/commerce/contract';

/**
 * The claim phase across failures: a worker restart while windows run loses no window (the new worker's timers
 * come from the stored claim_expires_at) and promotes nobody twice (conditional updates under the drop lock);
 * a claim still holding its unit is not expired under it; a claim retried after its request died (an API
 * restart) is answered by the checkout that request started.
 */
describe('lottery drop: claim windows across restarts and running claims', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;
  let drawnLottery: LotteryHelpers['drawnLottery'], statuses: LotteryHelpers['statuses'], told: LotteryHelpers['told'], claimOk: LotteryHelpers['claimOk'];

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000' }));
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 100, 4_000);
    ({ drawnLottery, statuses, told, claimOk } = lotteryHelpers(ctx, shop));
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  it('does not expire a win under a claim still running; the window passes as soon as that claim ends unsold', async () => {
    const { drop, entrants } = await drawnLottery(4, 2, 5);
    const [inFlight, idle] = entrants;
    // A claim begun inside the window, with a card that will be declined, stopped before its authorization.
    const { claim_attempt } = await ctx.deps.db('drop_entries').where({ id: inFlight!.entryId }).first('claim_attempt');
    const lock = await holdPaymentTwin(ctx.deps.db, claimCheckoutKey(drop.id, inFlight!.entryId, claim_attempt));
    let answer: Promise<Awaited<ReturnType<typeof claim>>> | undefined;
    try {
      answer = claim(ctx, drop.id, inFlight!.auth, randomUUID(), { shipping_address: claimAddress, payment_method: 'pm_card_chargeDeclined' }).then((r) => r);
      await waitUntilBlocked(ctx.deps.db, lock, 'the claim stopped before its authorization');
      await eventually(async () => (await statuses(drop.id))[1]!.status === 'expired', 20_000, 'the idle winner expired');
      const during = await statuses(drop.id);
      expect(during.map((r) => r.status)).toEqual(['won', 'expired', 'won', 'waitlisted']);
      expect(during[0]!.claim_expires_at!.getTime()).toBeLessThan(Date.now());
      expectProblem(await claim(ctx, drop.id, idle!.auth), 410, 'claim_expired');
    } finally {
      await lock.release();
    }

    // The claim ends declined: its unit goes back and the workflow, told by the claim, lets the window pass at
    // once (its timer was set for the hold's end, RESERVATION_TTL away).
    expectProblem(await answer!, 402, 'payment_declined');
    await eventually(async () => (await statuses(drop.id))[0]!.status === 'expired', 10_000, 'the window passed once the claim ended');
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['expired', 'expired', 'won', 'won']);
    expect(await ctx.deps.db('reservations').where({ cart_id: inFlight!.entryId, status: 'held' }).first()).toBeUndefined();
  }, 60_000);

  it('loses no claim window and promotes nobody twice across a worker restart', async () => {
    const { drop, entrants } = await drawnLottery(8, 4, 6);
    await claimOk(drop.id, entrants[0]!);
    const windowEnds = (await statuses(drop.id)).slice(1, 4).map((r) => r.claim_expires_at!.getTime());

    // The worker goes away while ranks 2-4 hold their windows, and stays away past their end.
    await worker.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, Math.max(...windowEnds) - Date.now() + 1_500));
    // The window is the stored instant, not the workflow's timer: the API refuses a late claim by itself.
    expectProblem(await claim(ctx, drop.id, entrants[1]!.auth), 410, 'claim_expired');
    // Nothing moved while no worker ran.
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['claimed', 'won', 'won', 'won', 'waitlisted', 'waitlisted', 'waitlisted', 'waitlisted']);

    worker = await startTestWorker(ctx.deps);
    const restartedAt = Date.now();
    // The new worker's timers come from the stored windows: all three are caught up at once, ranks 5-7 promoted.
    await eventually(async () => (await statuses(drop.id)).filter((r) => r.status === 'expired').length === 3, 20_000, 'windows caught up after the restart');
    const after = await statuses(drop.id);
    expect(after.map((r) => r.status)).toEqual(['claimed', 'expired', 'expired', 'expired', 'won', 'won', 'won', 'waitlisted']);
    expect(after.slice(1, 4).map((r) => r.claim_expires_at!.getTime())).toEqual(windowEnds);
    for (const r of after.slice(4, 7)) {
      expect(r.promoted_at!.getTime()).toBeGreaterThanOrEqual(stoppedAt);
      // A window of their own, starting at the promotion (after the restart), not eaten by the downtime.
      expect(r.claim_expires_at!.getTime()).toBeGreaterThanOrEqual(restartedAt + 6_000 - 1_000);
    }

    // The step run again (a retried activity, a second worker) changes nothing.
    for (let i = 0; i < 2; i++) {
      const again = await settleClaims(ctx.deps.db, drop.id);
      expect({ expired: again.expired.length, promoted: again.promoted.length, openWins: again.openWins }).toEqual({ expired: 0, promoted: 0, openWins: 3 });
    }
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(after.map((r) => r.status));
    const toldNow = await told(drop.id);
    expect({ expired: toldNow.drop_expired, promoted: toldNow.drop_promoted }).toEqual({ expired: 3, promoted: 3 });

    await inBatches(entrants.slice(4, 7), 3, (e) => claimOk(drop.id, e));
    await waitForDropStatus(ctx, drop.id, 'sold_out', 20_000);
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['claimed', 'expired', 'expired', 'expired', 'claimed', 'claimed', 'claimed', 'lost']);
    await eventually(async () => (await told(drop.id)).drop_lost === 1, 15_000, 'the last entrant told');
    expect(await told(drop.id)).toEqual({ drop_won: 4, drop_waitlisted: 4, drop_expired: 3, drop_promoted: 3, drop_lost: 1 });
  }, 120_000);

  it('answers a claim retried after its request died mid-checkout with the order that checkout made (API restart)', async () => {
    const { drop, entrants } = await drawnLottery(2, 1, 60);
    const winner = entrants[0]!;
    // What the first request did before its process died: held the unit and started the checkout.
    const row = await ctx.deps.db('drop_entries').where({ id: winner.entryId }).first('claim_attempt');
    const checkoutKey = claimCheckoutKey(drop.id, winner.entryId, row.claim_attempt);
    await openHeldCart(ctx.deps, { cartId: winner.entryId, storeId: shop.storeId, variantId: shop.variantId, ownerId: winner.userId, quantity: 1, unitPriceCents: 3_000, dropId: drop.id });
    const client = await ctx.deps.temporal.client();
    const handle = await client.workflow.start<CheckoutWorkflow>(CHECKOUT_WORKFLOW, {
      workflowId: checkoutWorkflowId(checkoutKey),
      taskQueue: ctx.deps.config.TASK_QUEUE,
      args: [
        {
          checkoutKey,
          cartId: winner.entryId,
          storeId: shop.storeId,
          customerId: winner.userId,
          items: [{ variant_id: shop.variantId, quantity: 1, unit_price_cents: 3_000 }],
          currency: 'EUR',
          paymentMethod: 'pm_card_visa',
          shippingAddress: claimAddress,
          billingAddress: null,
          dropId: drop.id,
        },
      ],
    });
    const result = await handle.result();
    expect(result.status).toBe('confirmed');
    expect(await ctx.deps.db('drop_entries').where({ id: winner.entryId }).first('status')).toEqual({ status: 'won' });

    // The retry (another process, another Idempotency-Key) finds that order: no second checkout, no second charge.
    const retried = await claimOk(drop.id, winner);
    expect(retried.id).toBe((result as { orderId: string }).orderId);
    expect(await ctx.deps.db('orders').where('checkout_key', 'like', `drop:${drop.id}:claim:%`).count('* as n').first()).toEqual({ n: 1 });
    await waitForDropStatus(ctx, drop.id, 'sold_out', 20_000);
    expect((await statuses(drop.id)).map((r) => r.status)).toEqual(['claimed', 'lost']);
  }, 60_000);
});
