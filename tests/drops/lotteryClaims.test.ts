import { settleClaims } from '../../src/drops/lottery';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUsers } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { claim, createDrop, dropShop, enter, inBatches, untilOpen, waitForDropStatus, type DropShop } from './fixtures';
import { inventoryOf } from '../commerce/fixtures';

/**
 * The lottery's claim phase, driven through the API with windows of seconds: claims make one order each through
 * the checkout saga, unclaimed wins expire and the waitlist is promoted in rank order until every unit is sold,
 * and a worker restart in the middle loses no window and promotes nobody twice.
 */
describe('lottery drop: claims, expiries and promotions', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000' }));
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 100, 4_000);
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  interface Entrant {
    auth: string;
    userId: string;
    entryId: string;
    rank: number;
  }

  /** A lottery with `n` entrants, drawn; the entrants in rank order (rank 1 first). */
  async function drawnLottery(n: number, quantity: number, claimWindowSeconds: number) {
    const users = await makeUsers(ctx.deps, n);
    const drop = await createDrop(ctx, shop, { quantity, opensIn: 1, closesIn: 5, claimWindowSeconds, priceCents: 3_000 });
    await untilOpen(drop);
    const entryIds = await inBatches(users, 8, async (userId) => {
      const res = await enter(ctx, drop.id, bearer(ctx.deps, userId));
      expect(res.status).toBe(201);
      return res.body.id as string;
    });
    await waitForDropStatus(ctx, drop.id, 'claiming', 60_000);
    const ranking = (await ctx.http.get(`/v1/drops/${drop.id}/draw`)).body.ranking as string[];
    const entrants: Entrant[] = ranking.map((entryId, i) => {
      const userId = users[entryIds.indexOf(entryId)]!;
      return { entryId, userId, auth: bearer(ctx.deps, userId), rank: i + 1 };
    });
    return { drop, entrants };
  }

  const entryOf = async (dropId: string, e: Entrant) => (await ctx.http.get(`/v1/drops/${dropId}/entries/me`).set('Authorization', e.auth)).body;
  const statuses = async (dropId: string) =>
    (await ctx.deps.db('drop_entries').where({ drop_id: dropId }).orderBy('rank').select('rank', 'status', 'claim_expires_at', 'promoted_at', 'order_id')) as Array<{
      rank: number;
      status: string;
      claim_expires_at: Date | null;
      promoted_at: Date | null;
      order_id: string | null;
    }>;
  const told = async (dropId: string) => {
    const rows = (await ctx.deps.db('notifications').whereRaw("data->>'drop_id' = ?", [dropId]).groupBy('type').select('type', ctx.deps.db.raw("count(*) as n, count(distinct data->>'entry_id') as entries"))) as Array<{
      type: string;
      n: string;
      entries: string;
    }>;
    for (const r of rows) expect(Number(r.n)).toBe(Number(r.entries)); // nobody told the same thing twice
    return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
  };
  const claimOk = async (dropId: string, e: Entrant) => {
    const res = await claim(ctx, dropId, e.auth);
    expect({ rank: e.rank, status: res.status }).toEqual({ rank: e.rank, status: 201 });
    return res.body as { id: string; total_cents: number; status: string };
  };
  /** Claims as soon as the entry shows it won (a promotion is seen by polling, as a client would). */
  const claimWhenWon = async (dropId: string, e: Entrant) => {
    await eventually(async () => (await entryOf(dropId, e)).status === 'won', 40_000, `rank ${e.rank} promoted`, 100);
    return claimOk(dropId, e);
  };

  it('expires unclaimed wins and promotes the waitlist in rank order until all 20 units are sold', async () => {
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
    expect((await inventoryOf(ctx, shop.variantId)).sold).toBeGreaterThanOrEqual(20);
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
});
