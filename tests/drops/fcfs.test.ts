import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { inventoryOf } from '../commerce/fixtures';
import { issueQueueToken } from '../../src/drops/queueTokens';
import { admissionStep, closeRoom } from '../../src/drops/waitingRoomAdmission';
import { admissionPace } from '../../src/domain/waitingRoom';
import { HotStock } from '../../src/commerce/hotStock';
import { idleFlagKey, joinQueueBatch, QueueClosedError } from '../../src/drops/waitingRoom';
import { createDrop, dropShop, waitForDropStatus, type DropShop } from './fixtures';

/**
 * The first-come waiting room, one behaviour at a time: one place per account, tokens, wrong mode, rate
 * limits, and the admission loop freeing a slot when an admitted shopper leaves, lets the hold expire or buys,
 * until sold out, when everyone still waiting is told. Holds last RESERVATION_TTL = 3 s here.
 */
describe('first-come drops: the waiting room', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ RESERVATION_TTL: '3s', DROP_RATE_LIMIT_PER_IP: '1000000' }));
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 50);
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  const join = (dropId: string, user: { auth: string }) => ctx.http.post(`/v1/drops/${dropId}/queue`).set('Authorization', user.auth);
  const place = (dropId: string, token: string, user?: { auth: string }) => {
    const req = ctx.http.get(`/v1/drops/${dropId}/queue/${token}`);
    return user ? req.set('Authorization', user.auth) : req;
  };
  const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };

  async function openFcfs(spec: { quantity: number; admissionPerSecond?: number }): Promise<string> {
    const drop = await createDrop(ctx, shop, { mode: 'fcfs', opensIn: 1, closesIn: null, ...spec });
    await waitForDropStatus(ctx, drop.id, 'open', 15_000);
    return drop.id as string;
  }

  /** An open drop whose steps the test runs itself (its workflow is ended), so each runs when the race needs it. */
  async function steppedDrop(quantity: number, rate: number, on: DropShop = shop) {
    const drop = await createDrop(ctx, on, { mode: 'fcfs', opensIn: 1, closesIn: null, quantity, admissionPerSecond: rate });
    await waitForDropStatus(ctx, drop.id, 'open', 15_000);
    await (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${drop.id}`).terminate('steps run by the test');
    const admissionDeps = { ...ctx.deps, hotStock: new HotStock(ctx.deps.redis, ctx.deps.db, ctx.deps.logger) };
    return { dropId: drop.id as string, step: () => admissionStep(admissionDeps, drop.id, admissionPace(rate), 1) };
  }
  /** Steps until one admits someone (exactly one), within the time given. */
  const admittedByAStep = (drop: { step: () => Promise<{ admittedNow: number }> }, ms: number) =>
    eventually(async () => {
      const { admittedNow } = await drop.step();
      expect(admittedNow).toBeLessThanOrEqual(1);
      return admittedNow === 1 || undefined;
    }, ms, 'an admission by a step');
  const rowOf = (dropId: string, u: TestUser) =>
    ctx.deps.db('drop_queue').where({ drop_id: dropId, user_id: u.id }).first('status', 'admitted_at') as Promise<{ status: string; admitted_at: Date | null }>;

  async function joined(dropId: string, user: TestUser): Promise<{ token: string; position: number }> {
    const res = await join(dropId, user);
    expect(res.status).toBe(201);
    return res.body;
  }

  it('gives one place per account: joining again answers the same place with a fresh token (201, existing)', async () => {
    const dropId = await openFcfs({ quantity: 1, admissionPerSecond: 1 });
    const [first, alice] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const firstPlace = await joined(dropId, first);
    // First holds the only unit: alice (and everyone after) waits behind them.
    await eventually(async () => (await place(dropId, firstPlace.token, first)).body.admitted === true || undefined, 10_000, 'first admitted');

    const a = await join(dropId, alice);
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ status: 'waiting', position: expect.any(Number), admitted: false, token: expect.any(String) });
    expect(a.body.existing).toBeUndefined();
    const again = await join(dropId, alice);
    expect(again.status).toBe(201);
    expect(again.body.existing).toBe(true);
    expect(again.body.position).toBe(a.body.position);
    expect(await ctx.deps.db('drop_queue').where({ drop_id: dropId, user_id: alice.id }).count('* as n')).toEqual([{ n: 1 }]);
    for (const token of [a.body.token, again.body.token]) {
      const got = await place(dropId, token, alice);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ position: a.body.position, admitted: false });
    }

    // Leaving gives the place up; joining again is a new place at the back of the line.
    const bob = await joined(dropId, await makeUser(ctx.deps));
    const left = await ctx.http.delete(`/v1/drops/${dropId}/queue/${a.body.token}`).set('Authorization', alice.auth);
    expect(left.body).toMatchObject({ status: 'left', admitted: false });
    expect((await place(dropId, a.body.token)).body.status).toBe('left');
    const back = await join(dropId, alice);
    expect(back.status).toBe(201);
    expect(back.body.position).toBeGreaterThan(bob.position);
    expect(back.body.ahead).toBe(1);
  });

  it('refuses bad, forged, expired, foreign and bearer tokens; only the owner, signed in, may leave; a lottery drop refuses queue joins', async () => {
    const dropId = await openFcfs({ quantity: 1 });
    const alice = await makeUser(ctx.deps);
    const { token } = await joined(dropId, alice);
    const row = (await ctx.deps.db('drop_queue').where({ drop_id: dropId, user_id: alice.id }).first('id')) as { id: string };

    expectProblem(await place(dropId, 'not-a-token'), 400, 'validation_failed');
    expectProblem(await place(dropId, 'a.b.c'), 404, 'queue_token_invalid');
    const forged = jwt.sign({ drop: dropId, uid: alice.id }, ctx.deps.config.JWT_SECRET, {
      algorithm: 'HS256',
      issuer: 'pledgeflow',
      audience: 'pledgeflow-drop-queue',
      subject: row.id,
      expiresIn: 600,
    });
    expectProblem(await place(dropId, forged), 404, 'queue_token_invalid');
    expectProblem(await place(dropId, alice.auth.slice('Bearer '.length)), 404, 'queue_token_invalid');
    const otherDrop = await openFcfs({ quantity: 1 });
    expectProblem(await place(otherDrop, token), 404, 'queue_token_invalid');
    const expired = issueQueueToken(ctx.deps.config, { queueId: row.id, dropId, userId: alice.id }, new Date(0), Date.now() - ctx.deps.config.DROP_QUEUE_TOKEN_TTL - 60_000);
    expectProblem(await place(dropId, expired.token), 410, 'queue_token_expired');
    expectProblem(await ctx.http.delete(`/v1/drops/${dropId}/queue/${expired.token}`).set('Authorization', alice.auth), 410, 'queue_token_expired');
    // Someone else's token, used while signed in as another account: the same answer as a forged one.
    const mallory = await makeUser(ctx.deps);
    expectProblem(await place(dropId, token, mallory), 404, 'queue_token_invalid');
    expect((await place(dropId, token)).status).toBe(200);
    // A token seen in a URL (a log, a shared link) reads the place but cannot give it up.
    expectProblem(await ctx.http.delete(`/v1/drops/${dropId}/queue/${token}`), 401, 'unauthorized');
    expectProblem(await ctx.http.delete(`/v1/drops/${dropId}/queue/${token}`).set('Authorization', mallory.auth), 404, 'queue_token_invalid');
    expect((await place(dropId, token, alice)).body.status).not.toBe('left');

    const lottery = await createDrop(ctx, shop, { mode: 'lottery', opensIn: 1, quantity: 1 });
    expectProblem(await join(lottery.id, alice), 409, 'not_first_come');
    expectProblem(await ctx.http.get(`/v1/drops/${lottery.id}/queue/shuffle`), 409, 'not_first_come');
    const later = await createDrop(ctx, shop, { mode: 'fcfs', opensIn: 60, closesIn: null, quantity: 1 });
    expectProblem(await ctx.http.get(`/v1/drops/${later.id}/queue/shuffle`), 409, 'shuffle_pending');
    expectProblem(await ctx.http.post(`/v1/drops/${dropId}/queue`), 401, 'unauthorized');
    expectProblem(await join(randomUUID(), alice), 404, 'not_found');
  });

  it('frees the slot when an admitted shopper leaves or lets the hold expire, and tells everyone waiting when sold out', async () => {
    const dropId = await openFcfs({ quantity: 1, admissionPerSecond: 10 });
    const [ann, ben, cat, dan] = [await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const tokens = new Map<TestUser, string>();
    const positions: number[] = [];
    for (const u of [ann, ben, cat, dan]) {
      const j = await joined(dropId, u);
      tokens.set(u, j.token);
      positions.push(j.position);
    }
    // Later arrivals are served first come, first served.
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    const admittedPlace = (u: TestUser) =>
      eventually(async () => {
        const res = await place(dropId, tokens.get(u)!, u);
        return res.body.admitted ? (res.body as { cart_id: string; admitted_until: string }) : undefined;
      }, 10_000, 'admission');

    const annCart = await admittedPlace(ann);
    expect(Date.parse(annCart.admitted_until)).toBeGreaterThan(Date.now());
    expect((await inventoryOf(ctx, shop.variantId)).reserved).toBeGreaterThanOrEqual(1);
    // The drop's cart is checked out as it is: no more units at the drop price, no activity keeping the slot.
    const cartPath = `/v1/carts/${annCart.cart_id}/items`;
    for (const changed of [
      await ctx.http.post(cartPath).set('Authorization', ann.auth).send({ variant_id: shop.variantId, quantity: 1 }),
      await ctx.http.patch(`${cartPath}/${shop.variantId}`).set('Authorization', ann.auth).send({ quantity: 2 }),
      await ctx.http.delete(`${cartPath}/${shop.variantId}`).set('Authorization', ann.auth),
    ]) {
      expectProblem(changed, 409, 'drop_cart_locked');
    }
    expect(await ctx.deps.db('reservations').where({ cart_id: annCart.cart_id, status: 'held' }).pluck('quantity')).toEqual([1]);
    // One unit: nobody else gets in while ann holds it.
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await place(dropId, tokens.get(ben)!)).body).toMatchObject({ status: 'waiting', admitted: false, ahead: 0 });
    expect((await place(dropId, tokens.get(cat)!)).body).toMatchObject({ status: 'waiting', ahead: 1 });

    // Ann leaves: her hold goes back at once and ben is let in (at 10/s the room's own poll would let him in
    // too; that the leave's nudge does it is the next test's).
    const left = await ctx.http.delete(`/v1/drops/${dropId}/queue/${tokens.get(ann)}`).set('Authorization', ann.auth);
    expect(left.status).toBe(200);
    expect(left.body).toMatchObject({ status: 'left', admitted: false });
    expect(await ctx.deps.db('reservations').where({ cart_id: annCart.cart_id, status: 'held' }).count('* as n')).toEqual([{ n: 0 }]);
    const benCart = await admittedPlace(ben);

    // Ben lets his 3 s hold run out: cat is let in.
    const catCart = await admittedPlace(cat);
    expect((await place(dropId, tokens.get(ben)!)).body).toMatchObject({ status: 'expired', admitted: false });
    expect(await ctx.deps.db('reservations').where({ cart_id: benCart.cart_id, status: 'held' }).count('* as n')).toEqual([{ n: 0 }]);

    // Cat buys the unit through the normal checkout: sold out, and dan, still waiting, is told.
    const bought = await ctx.http
      .post('/v1/checkout')
      .set('Authorization', cat.auth)
      .set('Idempotency-Key', randomUUID())
      .send({ cart_id: catCart.cart_id, shipping_address: address, payment_method: 'pm_card_visa' });
    expect(bought.status).toBe(201);
    expect(bought.body.total_cents).toBe(5_000);
    const drop = await waitForDropStatus(ctx, dropId, 'sold_out', 15_000);
    expect(drop).toMatchObject({ sold: 1, remaining: 0 });
    await eventually(async () => (await place(dropId, tokens.get(cat)!)).body.status === 'purchased', 10_000, 'cat purchased');
    expect((await place(dropId, tokens.get(dan)!)).body).toMatchObject({ status: 'closed', admitted: false });
    const inbox = await ctx.http.get('/v1/me/notifications').set('Authorization', dan.auth);
    expect(inbox.body.data.map((n: { type: string }) => n.type)).toEqual(['drop_sold_out']);
    const catInbox = await ctx.http.get('/v1/me/notifications').set('Authorization', cat.auth);
    expect(catInbox.body.data.map((n: { type: string }) => n.type)).toContain('drop_admitted');

    // Sold out: no new places.
    expectProblem(await join(dropId, await makeUser(ctx.deps)), 409, 'drop_sold_out');
    const handle = (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${dropId}`);
    await eventually(async () => (await handle.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never) === 'sold_out', 10_000, 'Status sold_out');
  });

  it('lets the next shopper in on the leave\'s nudge, long before the room would look again by itself', async () => {
    // One admission per 5 s and holds of 30 s: while ann holds the only unit the room looks again only every
    // 5 s, so ben getting in within a moment of ann leaving can only be the leave's nudge.
    const slow = createTestContext(testConfig({ RESERVATION_TTL: '30s', DROP_RATE_LIMIT_PER_IP: '1000000' }));
    const slowWorker = await startTestWorker(slow.deps);
    try {
      const own = await dropShop(slow, 5);
      const drop = await createDrop(slow, own, { mode: 'fcfs', quantity: 1, admissionPerSecond: 0.2, opensIn: 1, closesIn: null });
      const dropId = drop.id as string;
      await waitForDropStatus(slow, dropId, 'open', 15_000);
      const [ann, ben] = [await makeUser(slow.deps), await makeUser(slow.deps)];
      const annToken = (await slow.http.post(`/v1/drops/${dropId}/queue`).set('Authorization', ann.auth)).body.token as string;
      await eventually(async () => (await rowOf(dropId, ann)).status === 'admitted', 10_000, 'ann admitted');
      expect((await slow.http.post(`/v1/drops/${dropId}/queue`).set('Authorization', ben.auth)).status).toBe(201);

      // Every step raises the room's idle flag (midway, before it counts the room). Ben's join took it and nudged
      // a step: once that step has raised it, take it down and wait for it to rise again, which is the room's own
      // look, a tick after ann's admission; then give that look a second to finish.
      const flagUp = async () => (await slow.deps.redis.exists(idleFlagKey(dropId))) === 1;
      await eventually(flagUp, 10_000, 'the step ben nudged', 20);
      await slow.deps.redis.del(idleFlagKey(dropId));
      await eventually(flagUp, 10_000, 'the room\'s own next look', 20);
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await rowOf(dropId, ben)).status).toBe('waiting');

      // The room's next look is ~4 s away; the tick since ann's admission is over.
      const leftAt = Date.now();
      const left = await slow.http.delete(`/v1/drops/${dropId}/queue/${annToken}`).set('Authorization', ann.auth);
      expect(left.body).toMatchObject({ status: 'left' });
      const benIn = await eventually(async () => {
        const row = await rowOf(dropId, ben);
        return row.status === 'admitted' && row.admitted_at;
      }, 10_000, 'ben admitted', 20);
      expect(benIn.getTime() - leftAt).toBeLessThan(2_500);
    } finally {
      await slowWorker.stop();
      await slow.close();
    }
  });

  it('waits out a shortage while an ordinary cart holds a unit, then sells every unit: never sold out early', async () => {
    // Ordinary carts share the drop's variant: two in stock, two for the drop, one held in a cart at the opening.
    const own = await dropShop(ctx, 2);
    const drop = await createDrop(ctx, own, { mode: 'fcfs', quantity: 2, admissionPerSecond: 10, opensIn: 1, closesIn: null });
    const dropId = drop.id as string;
    const shopper = await makeUser(ctx.deps);
    const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: own.storeId });
    expect(cart.status).toBe(201);
    const line = `/v1/carts/${cart.body.id}/items`;
    expect((await ctx.http.post(line).set('Authorization', shopper.auth).send({ variant_id: own.variantId, quantity: 1 })).status).toBe(200);
    // The cart stays active (each change renews its 3 s hold) until the shortage has been seen.
    let keepCart = true;
    const keeper = (async () => {
      while (keepCart) {
        await ctx.http.patch(`${line}/${own.variantId}`).set('Authorization', shopper.auth).send({ quantity: 1 });
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    try {
      await waitForDropStatus(ctx, dropId, 'open', 15_000);
      const [ann, ben, cat] = [await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps)];
      const tokens = new Map<TestUser, string>();
      for (const u of [ann, ben, cat]) tokens.set(u, (await joined(dropId, u)).token);
      const admittedPlace = (u: TestUser) =>
        eventually(async () => {
          const res = await place(dropId, tokens.get(u)!, u);
          return res.body.admitted ? (res.body as { cart_id: string }) : undefined;
        }, 10_000, 'admission');
      const buy = (u: TestUser, cartId: string) =>
        ctx.http.post('/v1/checkout').set('Authorization', u.auth).set('Idempotency-Key', randomUUID()).send({ cart_id: cartId, shipping_address: address, payment_method: 'pm_card_visa' });

      const annCart = await admittedPlace(ann);
      expect((await buy(ann, annCart.cart_id)).status).toBe(201);
      // Ann bought, nobody holds a drop unit, the ordinary cart holds the last one: the room waits (it polls
      // every tick) instead of ending the sale.
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await ctx.http.get(`/v1/drops/${dropId}`)).body).toMatchObject({ status: 'open', sold: 1 });
      expect((await place(dropId, tokens.get(ben)!)).body).toMatchObject({ status: 'waiting', admitted: false, ahead: 0 });
      expect(await ctx.deps.db('reservations').where({ cart_id: cart.body.id, status: 'held' }).count('* as n')).toEqual([{ n: 1 }]);
      expect((await join(dropId, await makeUser(ctx.deps))).status).toBe(201);

      // The ordinary cart goes quiet: its hold runs out and the unit goes to ben, next in line.
      keepCart = false;
      await keeper;
      const benCart = await admittedPlace(ben);
      expect((await buy(ben, benCart.cart_id)).status).toBe(201);
      expect(await waitForDropStatus(ctx, dropId, 'sold_out', 15_000)).toMatchObject({ sold: 2, remaining: 0 });
      expect(await inventoryOf(ctx, own.variantId)).toEqual({ total_stock: 2, reserved: 0, sold: 2 });
      await eventually(async () => (await place(dropId, tokens.get(cat)!)).body.status === 'closed', 10_000, 'cat closed');
      const inbox = await ctx.http.get('/v1/me/notifications').set('Authorization', cat.auth);
      expect(inbox.body.data.map((n: { type: string }) => n.type)).toEqual(['drop_sold_out']);
    } finally {
      keepCart = false;
      await keeper;
    }
  });

  it('counts every admission against its tick, also of a shopper who left and joined again', async () => {
    const leaveAndRejoin = async (dropId: string, u: TestUser, token: string) => {
      expect((await ctx.http.delete(`/v1/drops/${dropId}/queue/${token}`).set('Authorization', u.auth)).body.status).toBe('left');
      expect((await join(dropId, u)).status).toBe(201);
    };

    // One per 10 s: ann's admission takes the tick, whatever she does after it; ben waits for the next tick.
    const slow = await steppedDrop(1, 0.1);
    const [ann, ben] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const annToken = (await joined(slow.dropId, ann)).token;
    // The drop's own workflow may have spent the current tick before the test took over: the admission comes by the next.
    await admittedByAStep(slow, 15_000);
    await joined(slow.dropId, ben);
    await leaveAndRejoin(slow.dropId, ann, annToken);
    const after = await slow.step();
    expect(after).toMatchObject({ admittedNow: 0, holding: 0, waiting: 2 });
    expect(after.msUntilNextTick).toBeGreaterThan(0);
    expect((await rowOf(slow.dropId, ben)).status).toBe('waiting');

    // Two per second: cat, first in line again right after her admission, goes in no sooner than a tick after it
    // (admitting her again within it would overwrite the admission the pace counts).
    const fast = await steppedDrop(3, 2);
    const cat = await makeUser(ctx.deps);
    const catToken = (await joined(fast.dropId, cat)).token;
    await admittedByAStep(fast, 5_000);
    const first = (await rowOf(fast.dropId, cat)).admitted_at!;
    await leaveAndRejoin(fast.dropId, cat, catToken);
    const again = await eventually(async () => {
      await fast.step();
      const row = await rowOf(fast.dropId, cat);
      return row.status === 'admitted' && row.admitted_at;
    }, 10_000, 'cat admitted again', 50);
    expect(again.getTime() - first.getTime()).toBeGreaterThanOrEqual(1000);
  });

  it('tells a shopper whose admission finds no unit after the sale ended, instead of putting them back in a closed line', async () => {
    const own = await dropShop(ctx, 1);
    const { dropId, step } = await steppedDrop(1, 10, own);
    const dan = await makeUser(ctx.deps);
    const { token } = await joined(dropId, dan);
    // A step admitted dan and was cut short before opening his cart; meanwhile the merchant sold the variant's
    // last unit elsewhere, and closes_at passed (the closing told everyone then waiting: nobody).
    await ctx.deps.db('drop_queue').where({ drop_id: dropId, user_id: dan.id }).update({ status: 'admitted', cart_id: randomUUID(), admitted_at: ctx.deps.db.fn.now() });
    expect((await ctx.http.put(`/v1/stores/${own.storeId}/inventory/${own.variantId}`).set('Authorization', own.owner.auth).send({ total_stock: 0 })).status).toBe(200);
    expect(await closeRoom(ctx.deps.db, dropId, 'closed')).toMatchObject({ status: 'closed', told: 0 });

    // The post-close step opens his cart, finds no unit: his place closes and he is told, like everyone waiting.
    expect(await step()).toMatchObject({ status: 'closed', holding: 0, waiting: 0, stockShort: true });
    expect((await place(dropId, token, dan)).body).toMatchObject({ status: 'closed', admitted: false });
    const inbox = await ctx.http.get('/v1/me/notifications').set('Authorization', dan.auth);
    expect(inbox.body.data.map((n: { type: string }) => n.type)).toEqual(['drop_closed']);
    await step();
    expect((await ctx.http.get('/v1/me/notifications').set('Authorization', dan.auth)).body.data).toHaveLength(1);
  });

  it('places joins that arrive together in one batch in arrival order: an account named twice gets one place, one that left goes to the back', async () => {
    const { dropId } = await steppedDrop(1, 1);
    const [ann, ben, cat, dan] = [await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const annToken = (await joined(dropId, ann)).token;
    const benPlace = await joined(dropId, ben);
    expect((await ctx.http.delete(`/v1/drops/${dropId}/queue/${annToken}`).set('Authorization', ann.auth)).body.status).toBe('left');

    // One batch: cat, ann back from leaving, cat again, ben already in line, dan.
    const { outcomes } = await joinQueueBatch(ctx.deps.db, dropId, [cat.id, ann.id, cat.id, ben.id, dan.id]);
    const places = outcomes.map((o) => (o instanceof QueueClosedError ? o.status : { user: o.row.user_id, position: o.row.position, created: o.created, ahead: o.view?.ahead }));
    const p = benPlace.position;
    expect(places).toEqual([
      { user: cat.id, position: p + 1, created: true, ahead: 1 },
      { user: ann.id, position: p + 2, created: true, ahead: 2 },
      { user: cat.id, position: p + 1, created: false, ahead: undefined },
      { user: ben.id, position: p, created: false, ahead: undefined },
      { user: dan.id, position: p + 3, created: true, ahead: 3 },
    ]);
    const rows = (await ctx.deps.db('drop_queue').where({ drop_id: dropId }).orderBy('seq').select('user_id', 'position', 'status')) as Array<{ user_id: string; position: number }>;
    expect(rows.map((r) => r.user_id)).toEqual([ben.id, cat.id, ann.id, dan.id]);
    expect(rows.map((r) => r.position)).toEqual([p, p + 1, p + 2, p + 3]);

    // Over HTTP, all at once: each account one place, the same one in every answer; positions follow on without gaps.
    const crowd = await Promise.all(Array.from({ length: 6 }, () => makeUser(ctx.deps)));
    const answers = await Promise.all([...crowd, ...crowd].map((u) => join(dropId, u)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    for (const u of crowd) {
      const mine = answers.filter((a, i) => [...crowd, ...crowd][i] === u);
      expect(new Set(mine.map((a) => a.body.position)).size).toBe(1);
      expect(mine.filter((a) => a.body.existing === true)).toHaveLength(1);
    }
    expect(new Set(answers.map((a) => a.body.position))).toEqual(new Set(Array.from({ length: 6 }, (_, i) => p + 4 + i)));
  });

  it('rate limits queue joins per account and per address (429 with Retry-After)', async () => {
    const limited = createTestContext(testConfig({ JWT_SECRET: ctx.deps.config.JWT_SECRET, TRUST_PROXY: 'true', DROP_RATE_LIMIT_PER_ACCOUNT: '3', DROP_RATE_LIMIT_PER_IP: '4' }));
    try {
      const dropId = (await createDrop(ctx, shop, { mode: 'fcfs', opensIn: 60, closesIn: null, quantity: 1 })).id as string;
      const alice = await makeUser(ctx.deps);
      const from = (ip: string, user: { auth: string }) => limited.http.post(`/v1/drops/${dropId}/queue`).set('Authorization', user.auth).set('X-Forwarded-For', ip);
      const net = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
      for (let i = 1; i <= 3; i++) expect((await from(`${net}.${i}`, alice)).status).toBe(201);
      const refused = await from(`${net}.4`, alice);
      expectProblem(refused, 429, 'rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

      const shared = `${net}.200`;
      for (let i = 0; i < 4; i++) expect((await from(shared, await makeUser(ctx.deps))).status).toBe(201);
      expectProblem(await from(shared, await makeUser(ctx.deps)), 429, 'rate_limited');
    } finally {
      await limited.close();
    }
  });
});
