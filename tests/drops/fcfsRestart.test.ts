import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { inventoryOf } from '../commerce/fixtures';
import { idleFlagKey } from '../../src/drops/waitingRoom';
import { admissionLockKey } from '../../src/drops/waitingRoomAdmission';
import { holdLock, waitUntilBlocked } from '../commerce/checkoutLocks';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { createDrop, dropShop, waitForDropStatus } from './fixtures';

/**
 * The waiting room survives its processes: the worker stops mid-admission (nobody is let in meanwhile, and
 * nobody twice after), Redis loses every key of the sale (idle flag, stock counters, the admitted shoppers'
 * carts) while the worker is down and again while shoppers hold carts and wait, and a fresh API process reads
 * the same places from the same tokens. The workflow's details show the room for operators.
 */
describe('first-come drops: restarts', () => {
  let ctx: TestContext;

  beforeAll(() => {
    ctx = createTestContext(testConfig({ RESERVATION_TTL: '30s', DROP_RATE_LIMIT_PER_IP: '1000000' }));
  });
  afterAll(() => ctx.close());

  /**
   * A Redis loss for one sale: deletes every key naming any of `ids`. (Not FLUSHDB: other test files running
   * at the same time share the run's Redis database.) Returns how many keys went.
   */
  async function loseRedisKeysOf(ids: string[]): Promise<number> {
    let cursor = '0';
    let lost = 0;
    do {
      const [next, keys] = await ctx.deps.redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys.filter((k) => ids.some((id) => k.includes(id)))) lost += await ctx.deps.redis.del(key);
    } while (cursor !== '0');
    return lost;
  }

  it('admits each shopper once, at the pace, across a worker restart, Redis losses and a new API process; admitted shoppers keep their carts', async () => {
    let worker = await startTestWorker(ctx.deps);
    try {
      const shop = await dropShop(ctx, 10);
      const drop = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 3, admissionPerSecond: 1, opensIn: 2, closesIn: null });
      const users: TestUser[] = [];
      const tokens = new Map<string, string>();
      for (let i = 0; i < 5; i++) {
        const u = await makeUser(ctx.deps);
        const res = await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', u.auth);
        expect(res.status).toBe(201);
        users.push(u);
        tokens.set(u.id, res.body.token);
      }
      const admittedCount = async () =>
        Number((await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).whereNotNull('admitted_at').count<{ n: number }[]>('* as n'))[0]!.n);

      await waitForDropStatus(ctx, drop.id, 'open', 15_000);
      await eventually(async () => (await admittedCount()) >= 1, 10_000, 'a first admission');
      await worker.stop();
      const whileDown = await admittedCount();
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await admittedCount()).toBe(whileDown);
      const firstCarts = (await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).whereNotNull('cart_id').pluck('cart_id')) as string[];
      expect(await loseRedisKeysOf([drop.id, shop.variantId, ...firstCarts])).toBeGreaterThanOrEqual(1);
      expect(await ctx.deps.redis.exists(idleFlagKey(drop.id))).toBe(0);

      worker = await startTestWorker(ctx.deps);
      await eventually(async () => (await admittedCount()) === 3, 15_000, 'three admissions');
      await new Promise((r) => setTimeout(r, 1_500));
      // Three units, three shoppers in: each with one cart holding one unit, one second apart at least.
      const rows = (await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).whereNotNull('admitted_at').orderBy('admitted_at').select('user_id', 'cart_id', 'admitted_at', 'position')) as Array<{
        user_id: string;
        cart_id: string;
        admitted_at: Date;
        position: number;
      }>;
      expect(rows.map((r) => r.position)).toEqual([1, 2, 3]);
      expect(new Set(rows.map((r) => r.cart_id)).size).toBe(3);
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.admitted_at.getTime() - rows[i - 1]!.admitted_at.getTime()).toBeGreaterThanOrEqual(1000);
      expect((await inventoryOf(ctx, shop.variantId)).reserved).toBe(3);
      const holds = (await ctx.deps.db('reservations').whereIn('cart_id', rows.map((r) => r.cart_id)).where({ status: 'held' }).select('cart_id', 'quantity')) as Array<{ quantity: number }>;
      expect(holds).toHaveLength(3);
      expect(holds.every((h) => h.quantity === 1)).toBe(true);

      // Redis loses the sale again while three shoppers hold carts and two wait: the carts' documents go too.
      expect(await loseRedisKeysOf([drop.id, shop.variantId, ...rows.map((r) => r.cart_id)])).toBeGreaterThanOrEqual(3);
      const userOf = (id: string) => users.find((x) => x.id === id)!;
      const waiting = users.filter((u) => !rows.some((r) => r.user_id === u.id));
      // Places live in Postgres: everyone reads the same place, the waiting ones their position and who is ahead.
      const waitingAt: number[] = [];
      for (const u of waiting) {
        const mine = (await ctx.http.get(`/v1/drops/${drop.id}/queue/${tokens.get(u.id)}`).set('Authorization', u.auth)).body;
        expect(mine).toMatchObject({ status: 'waiting', admitted: false, ahead: mine.position - 4 });
        waitingAt.push(mine.position);
      }
      expect(waitingAt.sort()).toEqual([4, 5]);
      for (const r of rows) {
        const u = userOf(r.user_id);
        expect((await ctx.http.get(`/v1/drops/${drop.id}/queue/${tokens.get(u.id)}`).set('Authorization', u.auth)).body).toMatchObject({ admitted: true, cart_id: r.cart_id });
      }
      // The room's next step writes the admitted shoppers' carts back (one unit at the drop price); nobody is
      // let in twice or instead of them, and nothing more is held.
      for (const r of rows) {
        const cart = await eventually(async () => {
          const res = await ctx.http.get(`/v1/carts/${r.cart_id}`).set('Authorization', userOf(r.user_id).auth);
          return res.status === 200 && res.body;
        }, 10_000, 'the cart written back');
        expect(cart.items).toEqual([expect.objectContaining({ variant_id: shop.variantId, quantity: 1 })]);
      }
      expect(await admittedCount()).toBe(3);
      expect((await inventoryOf(ctx, shop.variantId)).reserved).toBe(3);

      const handle = (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${drop.id}`);
      // Eventually: the sale may have just continued as new, and a new run shows its opening until its first step.
      const details = await eventually(async () => {
        const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
        return /\*\*Waiting:\*\* 2; \*\*admitted/.test(metadata.currentDetails ?? '') && metadata.currentDetails;
      }, 10_000, 'current details after the restart');
      expect(details).toMatch(/\*\*Waiting:\*\* 2; \*\*admitted \(holding a unit\):\*\* 3/);
      expect(details).toMatch(/\*\*Sold:\*\* 0 of 3; \*\*remaining:\*\* 3/);

      // Another API process (same secret) reads the same places from the same tokens, and they buy.
      const api2 = createTestContext(testConfig({ JWT_SECRET: ctx.deps.config.JWT_SECRET, TASK_QUEUE: ctx.deps.config.TASK_QUEUE }));
      try {
        for (const r of rows) {
          const u = userOf(r.user_id);
          const mine = await api2.http.get(`/v1/drops/${drop.id}/queue/${tokens.get(u.id)}`).set('Authorization', u.auth);
          expect(mine.body).toMatchObject({ admitted: true, cart_id: r.cart_id });
          const bought = await api2.http
            .post('/v1/checkout')
            .set('Authorization', u.auth)
            .set('Idempotency-Key', randomUUID())
            .send({ cart_id: r.cart_id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
          expect(bought.status).toBe(201);
        }
      } finally {
        await api2.close();
      }
      expect(await waitForDropStatus(ctx, drop.id, 'sold_out', 15_000)).toMatchObject({ sold: 3 });
      await eventually(async () => (await handle.describe()).status.name === 'COMPLETED', 15_000, 'the drop workflow to finish');
      const statuses = (await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).orderBy('position').pluck('status')) as string[];
      expect(statuses).toEqual(['purchased', 'purchased', 'purchased', 'closed', 'closed']);
    } finally {
      await worker.stop();
    }
  });

  it('a worker killed inside an admission step: another worker retries it within seconds, nobody let in twice', async () => {
    // The worker is its own OS process, so it can really die (no graceful drain); its sessions are named.
    const childApp = `h9-fcfs-kill-${randomUUID().slice(0, 8)}`;
    const child: Running = startWorkerProcess(ctx.deps.config, { appName: childApp, settings: { RESERVATION_TTL: '30s', LOG_LEVEL: 'info' } });
    let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
    const lock = { release: async () => {} };
    try {
      await child.waitFor('worker running', 90_000);
      const shop = await dropShop(ctx, 10);
      const drop = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 2, admissionPerSecond: 1, opensIn: 1, closesIn: null });
      await waitForDropStatus(ctx, drop.id, 'open', 30_000);

      // The test holds the admission lock: ann's join nudges a step, which stops inside its admission transaction.
      const held = await holdLock(ctx.deps.db, 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [admissionLockKey(drop.id)]);
      lock.release = held.release;
      const [ann, ben, cat] = [await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps)];
      const join = (u: TestUser) => ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', u.auth);
      const annToken = (await join(ann)).body.token as string;
      await waitUntilBlocked(ctx.deps.db, held, 'the worker\'s step waiting to admit', { applicationName: childApp, timeoutMs: 30_000 });
      child.child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      const killedAt = Date.now();
      await held.release();
      // The dead step's transaction died with it: nobody was let in.
      expect(await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).pluck('status')).toEqual(['waiting']);

      worker = await startTestWorker(ctx.deps);
      const annIn = await eventually(async () => {
        const res = await ctx.http.get(`/v1/drops/${drop.id}/queue/${annToken}`).set('Authorization', ann.auth);
        return res.body.admitted && (res.body as { cart_id: string });
      }, 30_000, 'ann admitted by the next worker', 100);
      // The step's heartbeat timeout (10 s), not its one-minute start-to-close timeout, brought the retry.
      expect(Date.now() - killedAt).toBeLessThan(30_000);

      // The sale goes on at its pace: ben in a tick later at least, cat waits (two units); one cart each.
      await join(ben);
      await join(cat);
      await eventually(async () => (await ctx.deps.db('drop_queue').where({ drop_id: drop.id, status: 'admitted' }).whereNotNull('admitted_until').count('* as n'))[0]!.n === 2, 15_000, 'ben admitted');
      await new Promise((r) => setTimeout(r, 1_500));
      const places = (await ctx.deps.db('drop_queue').where({ drop_id: drop.id }).orderBy('position').select('user_id', 'status', 'cart_id', 'admitted_at')) as Array<{
        user_id: string;
        status: string;
        cart_id: string | null;
        admitted_at: Date | null;
      }>;
      expect(places.map((p) => [p.user_id, p.status])).toEqual([
        [ann.id, 'admitted'],
        [ben.id, 'admitted'],
        [cat.id, 'waiting'],
      ]);
      expect(places[0]!.cart_id).toBe(annIn.cart_id);
      expect(places[1]!.admitted_at!.getTime() - places[0]!.admitted_at!.getTime()).toBeGreaterThanOrEqual(1000);
      expect(await ctx.deps.db('reservations').whereIn('cart_id', [places[0]!.cart_id!, places[1]!.cart_id!]).where({ status: 'held' }).pluck('quantity')).toEqual([1, 1]);
      expect((await inventoryOf(ctx, shop.variantId)).reserved).toBe(2);
    } finally {
      await lock.release();
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await worker?.stop();
    }
  });

  it('ends the sale at closes_at: waiting shoppers told, the admitted one may still buy within the hold', async () => {
    const worker = await startTestWorker(ctx.deps);
    try {
      const shop = await dropShop(ctx, 10);
      const drop = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 1, admissionPerSecond: 5, opensIn: 1, closesIn: 4 });
      await waitForDropStatus(ctx, drop.id, 'open', 15_000);
      const [first, second] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
      const t1 = (await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', first.auth)).body.token as string;
      const t2 = (await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', second.auth)).body.token as string;
      const admitted = await eventually(async () => {
        const res = await ctx.http.get(`/v1/drops/${drop.id}/queue/${t1}`);
        return res.body.admitted ? (res.body.cart_id as string) : undefined;
      }, 10_000, 'admission');

      await waitForDropStatus(ctx, drop.id, 'closed', 15_000);
      await eventually(async () => (await ctx.http.get(`/v1/drops/${drop.id}/queue/${t2}`)).body.status === 'closed', 10_000, 'the waiting place closed');
      const inbox = await ctx.http.get('/v1/me/notifications').set('Authorization', second.auth);
      expect(inbox.body.data.map((n: { type: string }) => n.type)).toEqual(['drop_closed']);
      expect((await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', (await makeUser(ctx.deps)).auth)).body.code).toBe('drop_closed');

      const bought = await ctx.http
        .post('/v1/checkout')
        .set('Authorization', first.auth)
        .set('Idempotency-Key', randomUUID())
        .send({ cart_id: admitted, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
      expect(bought.status).toBe(201);
      await eventually(async () => (await ctx.http.get(`/v1/drops/${drop.id}/queue/${t1}`)).body.status === 'purchased', 10_000, 'purchased');
    } finally {
      await worker.stop();
    }
  });
});
