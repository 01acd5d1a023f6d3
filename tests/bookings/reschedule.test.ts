import { bookingStateQuery, bookingWorkflowId } from '../../src/bookings/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { uniqueEmail } from '../helpers/context';
import { makeProvider, makeService, type TestService } from './fixtures';
import { confirmedBooking, holdSlot, liveRows, localStart, overlappingLiveRows, quoteOf } from './holdHelpers';

/**
 * Moving bookings: the customer's reschedule onto a slot they hold (atomic: the hold released into the booking,
 * or 409 and nothing changed) and the operators' move, both through the exclusion gate; and all of them racing
 * new holds over one interval, after which no two live rows of the provider ever overlap.
 */

describe('rescheduling and moving bookings', () => {
  const operatorEmail = uniqueEmail('ops');
  let ctx: TestContext;
  let operator: TestUser;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail }));
    operator = await makeUser(ctx.deps, { email: operatorEmail });
    // The bookings' workflows run: the hold used for a move ends released, the booking's own goes on.
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
  });

  const reschedule = (user: TestUser, bookingId: string, holdId: string) =>
    ctx.http.post(`/v1/bookings/${bookingId}/reschedule`).set('Authorization', user.auth).send({ hold_id: holdId });
  const move = (user: TestUser, bookingId: string, start: number) =>
    ctx.http.post(`/v1/operator/bookings/${bookingId}/move`).set('Authorization', user.auth).send({ start: new Date(start).toISOString() });
  const rowOf = (id: string) => ctx.deps.db('bookings').where({ id }).first('status', 'starts_at', 'ends_at', 'price_cents', 'moved_booking_id');

  it("moves a confirmed booking onto the customer's hold at once, keeps its price, and frees the old slot", async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const from = localStart(provider.timeZone, 2, 10);
    const to = localStart(provider.timeZone, 2, 14);
    const bookingId = await confirmedBooking(ctx, customer, service, from);
    const hold = await holdSlot(ctx, customer, service, to, quoteOf(ctx.deps, service, to, { priceCents: 9_999 }));
    expect(hold.status).toBe(201);

    const moved = await reschedule(customer, bookingId, hold.body.id);

    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ id: bookingId, status: 'confirmed', start: new Date(to).toISOString(), end: new Date(to + 3_600_000).toISOString(), price_cents: 5_000 });
    expect(await rowOf(hold.body.id)).toMatchObject({ status: 'released', moved_booking_id: bookingId });
    const history = await ctx.deps.db('booking_status_history').where({ booking_id: bookingId, status: 'rescheduled' }).select('actor', 'detail');
    expect(history).toEqual([
      { actor: 'customer', detail: { from: { start: new Date(from).toISOString(), end: new Date(from + 3_600_000).toISOString() }, to: { start: new Date(to).toISOString(), end: new Date(to + 3_600_000).toISOString() }, hold_id: hold.body.id } },
    ]);
    const told = await ctx.deps.db('notifications').where({ type: 'booking_rescheduled' }).whereRaw(`data->>'booking_id' = ?`, [bookingId]).pluck('user_id');
    expect(told.sort()).toEqual([customer.id, provider.owner.id].sort());
    expect((await liveRows(ctx.deps, provider.id)).map((r) => r.id)).toEqual([bookingId]);

    const next = await holdSlot(ctx, await makeUser(ctx.deps), service, from);
    expect(next.status).toBe(201);

    const client = await ctx.deps.temporal.client();
    expect(await client.workflow.getHandle(bookingWorkflowId(hold.body.id)).result()).toEqual({ status: 'released' });
    const booking = client.workflow.getHandle(bookingWorkflowId(bookingId));
    expect((await booking.describe()).status.name).toBe('RUNNING');
    expect((await booking.query(bookingStateQuery)).status).toBe('confirmed');
  });

  it('answers 409, 404 or 410 and changes nothing when the reschedule cannot be done', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const other = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const stranger = await makeUser(ctx.deps);
    const bookingId = await confirmedBooking(ctx, customer, service, localStart(provider.timeZone, 2, 9));
    const before = await rowOf(bookingId);

    const otherService = await holdSlot(ctx, customer, other, localStart(provider.timeZone, 2, 11));
    const mismatch = await reschedule(customer, bookingId, otherService.body.id);
    expect([mismatch.status, mismatch.body.code]).toEqual([409, 'hold_mismatch']);
    expect((await rowOf(otherService.body.id)).status).toBe('held');

    const theirs = await holdSlot(ctx, stranger, service, localStart(provider.timeZone, 2, 12));
    expect((await reschedule(customer, bookingId, theirs.body.id)).status).toBe(404);
    expect((await reschedule(stranger, bookingId, theirs.body.id)).status).toBe(404);

    const mine = await holdSlot(ctx, customer, service, localStart(provider.timeZone, 2, 13));
    const holdAsBooking = await reschedule(customer, otherService.body.id, mine.body.id);
    expect([holdAsBooking.status, holdAsBooking.body.code]).toEqual([409, 'booking_not_reschedulable']);

    await ctx.deps.db('bookings').where({ id: mine.body.id }).update({ hold_expires_at: new Date(Date.now() - 1_000) });
    const lapsed = await reschedule(customer, bookingId, mine.body.id);
    expect([lapsed.status, lapsed.body.code]).toEqual([410, 'hold_expired']);

    expect(await rowOf(bookingId)).toEqual(before);
    expect(await ctx.deps.db('booking_status_history').where({ booking_id: bookingId, status: 'rescheduled' })).toEqual([]);
  });

  it('lets an operator move a booking to a free start, and refuses a taken one with 409 slot_unavailable', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const bookingId = await confirmedBooking(ctx, customer, service, localStart(provider.timeZone, 3, 9));
    const taken = await holdSlot(ctx, await makeUser(ctx.deps), service, localStart(provider.timeZone, 3, 12));
    expect(taken.status).toBe(201);

    const forbidden = await move(customer, bookingId, localStart(provider.timeZone, 3, 15));
    expect(forbidden.status).toBe(403);
    const clash = await move(operator, bookingId, localStart(provider.timeZone, 3, 12, 30));
    expect([clash.status, clash.body.code]).toEqual([409, 'slot_unavailable']);
    expect((await rowOf(bookingId)).starts_at.getTime()).toBe(localStart(provider.timeZone, 3, 9));

    // Operators are not bound to the grid: half past is fine when free.
    const moved = await move(operator, bookingId, localStart(provider.timeZone, 3, 15, 30));
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ start: new Date(localStart(provider.timeZone, 3, 15, 30)).toISOString(), status: 'confirmed' });
    const history = await ctx.deps.db('booking_status_history').where({ booking_id: bookingId, status: 'rescheduled' }).pluck('actor');
    expect(history).toEqual(['operator']);
  });

  it('never leaves two live rows overlapping when holds, a reschedule and operator moves race over one interval', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    for (const day of [4, 5, 6]) await raceOnce(provider.id, service, day);
  });

  /**
   * One round: A's booking X sits at 09:00 and A holds 13:00; C's booking Y sits at 15:00. At once: A reschedules X
   * onto 13:00 (freeing 09:00), an operator moves Y to 09:30 (overlapping X until it has moved), 8 customers hold
   * 09:00 and 4 hold 10:00 (overlapping Y once moved). Who wins depends on the interleaving; overlaps never happen.
   */
  async function raceOnce(providerId: string, service: TestService, day: number): Promise<void> {
    const tz = 'Europe/Berlin';
    const a = await makeUser(ctx.deps);
    const c = await makeUser(ctx.deps);
    const x = await confirmedBooking(ctx, a, service, localStart(tz, day, 9));
    const y = await confirmedBooking(ctx, c, service, localStart(tz, day, 15));
    const h = await holdSlot(ctx, a, service, localStart(tz, day, 13));
    expect(h.status).toBe(201);
    const racers = await Promise.all(Array.from({ length: 12 }, () => makeUser(ctx.deps)));
    const quotes = racers.map((_, i) => quoteOf(ctx.deps, service, localStart(tz, day, i < 8 ? 9 : 10)));

    const [rescheduled, moved, ...holds] = await Promise.all([
      reschedule(a, x, h.body.id),
      move(operator, y, localStart(tz, day, 9, 30)),
      ...racers.map((r, i) => holdSlot(ctx, r, service, localStart(tz, day, i < 8 ? 9 : 10), quotes[i])),
    ]);

    expect(rescheduled.status).toBe(200); // its slot was held by A: nothing could take it
    expect([200, 409]).toContain(moved!.status);
    for (const r of holds) expect([201, 409]).toContain(r.status);
    for (const r of [moved!, ...holds].filter((x) => x.status === 409)) expect(r.body.code).toBe('slot_unavailable');
    expect(await overlappingLiveRows(ctx.deps, providerId)).toEqual([]);
    // At most one winner per contested interval: 09:00 (the holds) vs 09:30 (the move) vs 10:00 (the holds).
    const ninesWon = holds.slice(0, 8).filter((r) => r.status === 201).length;
    const tensWon = holds.slice(8).filter((r) => r.status === 201).length;
    expect(ninesWon).toBeLessThanOrEqual(1);
    expect(tensWon).toBeLessThanOrEqual(1);
    if (moved!.status === 200) expect(ninesWon + tensWon).toBe(0);
    else expect(tensWon).toBe(1); // 10:00 was free all along unless Y took it
  }
});
