import { randomUUID } from 'node:crypto';
import { BOOKING_WORKFLOW, bookingStateQuery, bookingWorkflowId } from '../../src/bookings/contract';
import { CustomerId, ProviderId, Status } from '../../src/temporal/searchAttributes';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { makeProvider, makeService } from './fixtures';
import { holdSlot, liveRows, localStart, overlappingLiveRows, quoteOf } from './holdHelpers';

/**
 * Slot holds through the real API, Postgres' exclusion gate and the hold's `booking:<id>` timer: racing customers
 * get exactly one hold, whatever the lengths of the slots they race for; quotes must be genuine, current and for
 * this slot; a customer cannot hoard; and a hold nobody books is released by its timer, the customer told.
 */
describe('slot holds', () => {
  let ctx: TestContext;

  beforeAll(() => {
    ctx = createTestContext();
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('gives one slot to exactly one of 20 customers holding it at once', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const start = localStart(provider.timeZone, 2, 10);
    const customers = await Promise.all(Array.from({ length: 20 }, () => makeUser(ctx.deps)));
    const quotes = customers.map(() => quoteOf(ctx.deps, service, start));

    const answers = await Promise.all(customers.map((c, i) => holdSlot(ctx, c, service, start, quotes[i])));

    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, ...Array(19).fill(409)]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('slot_unavailable');
    const winner = answers.find((a) => a.status === 201)!;
    expect(winner.body).toMatchObject({ status: 'held', start: new Date(start).toISOString(), price_cents: 5_000, currency: 'EUR' });
    const rows = await liveRows(ctx.deps, provider.id);
    expect(rows.map((r) => r.id)).toEqual([winner.body.id]);
  });

  it('gives overlapping slots of different lengths (60 min + 15 min buffer, 90 min) to exactly one racer', async () => {
    const provider = await makeProvider(ctx.deps);
    const short = await makeService(ctx.deps, provider, { durationMinutes: 60, bufferMinutes: 15 });
    const long = await makeService(ctx.deps, provider, { durationMinutes: 90, bufferMinutes: 0 });
    // 10:15–11:15 (+15 buffer → 11:30) on the short grid; 10:30–12:00 on the long grid: they overlap, starts differ.
    const shortStart = localStart(provider.timeZone, 3, 10, 15);
    const longStart = localStart(provider.timeZone, 3, 10, 30);
    const customers = await Promise.all(Array.from({ length: 16 }, () => makeUser(ctx.deps)));

    const answers = await Promise.all(customers.map((c, i) => (i % 2 === 0 ? holdSlot(ctx, c, short, shortStart) : holdSlot(ctx, c, long, longStart))));

    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(15);
    expect(await liveRows(ctx.deps, provider.id)).toHaveLength(1);
    expect(await overlappingLiveRows(ctx.deps, provider.id)).toEqual([]);

    // Right after the winner's interval (its buffer included) the provider is free again.
    const other = await makeUser(ctx.deps);
    const winnerIsShort = answers.findIndex((a) => a.status === 201) % 2 === 0;
    if (winnerIsShort) {
      const afterBuffer = await holdSlot(ctx, other, short, localStart(provider.timeZone, 3, 11, 30));
      expect(afterBuffer.status).toBe(201);
    } else {
      const adjacent = await holdSlot(ctx, other, long, localStart(provider.timeZone, 3, 12, 0));
      expect(adjacent.status).toBe(201);
    }
  });

  it('holds a listed slot with a quote from the quotes route, at its price; such a quote expires after QUOTE_TTL (410)', async () => {
    const quick = createTestContext(testConfig({ QUOTE_TTL: '1s', JWT_SECRET: ctx.deps.config.JWT_SECRET }));
    try {
      const provider = await makeProvider(quick.deps);
      const service = await makeService(quick.deps, provider, { durationMinutes: 45, bufferMinutes: 15 });
      const customer = await makeUser(quick.deps);
      const from = new Date(localStart(provider.timeZone, 3, 0)).toISOString();
      const to = new Date(localStart(provider.timeZone, 4, 0)).toISOString();
      const listed = await quick.http.get(`/v1/services/${service.id}/slots`).query({ from, to });
      expect(listed.status).toBe(200);
      const [first, second] = listed.body.slots as Array<{ start: string; price_cents: number }>;
      const quoteOfSlot = (start: string) => quick.http.post(`/v1/services/${service.id}/quotes`).set('Authorization', customer.auth).send({ start });

      const quote = await quoteOfSlot(first!.start);
      expect(quote.status).toBe(201);
      const held = await holdSlot(quick, customer, service, Date.parse(first!.start), quote.body.id);
      expect(held.status).toBe(201);
      expect(held.body).toMatchObject({ start: first!.start, price_cents: quote.body.price_cents, expires_at: expect.any(String) });

      const lapsing = await quoteOfSlot(second!.start);
      expect(lapsing.status).toBe(201);
      await new Promise((r) => setTimeout(r, 1_100));
      const expired = await holdSlot(quick, customer, service, Date.parse(second!.start), lapsing.body.id);
      expect([expired.status, expired.body.code]).toEqual([410, 'quote_expired']);
    } finally {
      await quick.close();
    }
  });

  it('lets Postgres alone refuse overlapping rows of different lengths written by parallel transactions (no API, no pre-check)', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const base = localStart(provider.timeZone, 7, 9);
    // Ten intervals of 30 to 120 minutes (+10 min buffer), starting 09:15 to 10:00: every one covers 10:00–10:30.
    const attempts = Array.from({ length: 10 }, (_, i) => ({ start: base + (60 - i * 5) * 60_000, minutes: 30 + i * 10 }));

    const outcomes = await Promise.all(
      attempts.map(({ start, minutes }) =>
        ctx.deps.db
          .transaction(async (trx) => {
            await trx.raw(
              `INSERT INTO bookings (service_id, provider_id, customer_id, status, starts_at, ends_at, buffer_minutes, blocked, hold_expires_at, price_cents, currency, quote, policy)
               VALUES (?, ?, ?, 'held', ?, ?, 10, tstzrange(?::timestamptz, ?::timestamptz + interval '10 minutes', '[)'), now() + interval '5 minutes', 100, 'EUR', '{}', '{}')`,
              [service.id, provider.id, customer.id, new Date(start), new Date(start + minutes * 60_000), new Date(start), new Date(start + minutes * 60_000)],
            );
            await trx.raw('SELECT pg_sleep(0.05)'); // stay uncommitted while the others check against this row
          })
          .then(
            () => 'inserted',
            (err: { code?: string }) => err.code,
          ),
      ),
    );

    // Refused by the constraint (23P01), or chosen as the victim of two uncommitted overlapping rows (40P01).
    expect(outcomes.filter((o) => o === 'inserted')).toHaveLength(1);
    for (const o of outcomes.filter((x) => x !== 'inserted')) expect(['23P01', '40P01']).toContain(o);
    expect(await liveRows(ctx.deps, provider.id)).toHaveLength(1);
  });

  it('refuses a tampered quote (400), a quote for another slot (409) or service (400), an expired quote (410), an off-grid start (409) and the provider holding their own slot (422)', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const other = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const start = localStart(provider.timeZone, 4, 11);

    const genuine = quoteOf(ctx.deps, service, start);
    const [v, payload, mac] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const cheaper = Buffer.from(JSON.stringify({ ...claims, priceCents: 1 })).toString('base64url');
    const tampered = await holdSlot(ctx, customer, service, start, `${v}.${cheaper}.${mac}`);
    expect(tampered.status).toBe(400);

    const elsewhere = await holdSlot(ctx, customer, service, start, quoteOf(ctx.deps, service, start + 3_600_000));
    expect([elsewhere.status, elsewhere.body.code]).toEqual([409, 'quote_mismatch']);
    const otherService = await holdSlot(ctx, customer, service, start, quoteOf(ctx.deps, other, start));
    expect([otherService.status, otherService.body.code]).toEqual([400, 'quote_mismatch']);

    const shortLived = quoteOf(ctx.deps, service, start, { ttlMs: 1_000 });
    await new Promise((r) => setTimeout(r, 1_100));
    const expired = await holdSlot(ctx, customer, service, start, shortLived);
    expect([expired.status, expired.body.code]).toEqual([410, 'quote_expired']);

    const offGrid = localStart(provider.timeZone, 4, 11, 20);
    const notOffered = await holdSlot(ctx, customer, service, offGrid);
    expect([notOffered.status, notOffered.body.code]).toEqual([409, 'slot_unavailable']);

    const own = await holdSlot(ctx, provider.owner, service, start);
    expect([own.status, own.body.code]).toEqual([422, 'cannot_book_own_service']);

    expect(await liveRows(ctx.deps, provider.id)).toEqual([]);
    const held = await holdSlot(ctx, customer, service, start, genuine);
    expect(held.status).toBe(201);
  });

  it('lets a customer hold at most 5 slots at once, even when asking for more at the same time', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const starts = [9, 10, 11, 12, 13, 14, 15, 16].map((h) => localStart(provider.timeZone, 5, h));

    const answers = await Promise.all(starts.map((s) => holdSlot(ctx, customer, service, s)));

    expect(answers.filter((a) => a.status === 201)).toHaveLength(5);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused.map((a) => [a.status, a.body.code])).toEqual(Array(3).fill([409, 'too_many_holds']));
    expect(await liveRows(ctx.deps, provider.id)).toHaveLength(5);
  });

  it('never leaves a hold without its timer: no Temporal, no hold (503); a timer whose hold never committed ends on its own', async () => {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider);
    const customer = await makeUser(ctx.deps);
    const start = localStart(provider.timeZone, 9, 10);
    const unreachable = createTestContext(testConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1', JWT_SECRET: ctx.deps.config.JWT_SECRET }));
    try {
      const refused = await holdSlot(unreachable, customer, service, start);
      expect([refused.status, refused.body.code, refused.body.dependency]).toEqual([503, 'dependency_unavailable', 'temporal']);
    } finally {
      await unreachable.close();
    }
    expect(await ctx.deps.db('bookings').where({ provider_id: provider.id })).toEqual([]);

    // The other way round: the workflow started, then its request died before COMMIT (no row ever appears).
    const worker = await startTestWorker(ctx.deps);
    try {
      const client = await ctx.deps.temporal.client();
      const bookingId = randomUUID();
      const handle = await client.workflow.start(BOOKING_WORKFLOW, {
        workflowId: bookingWorkflowId(bookingId),
        taskQueue: ctx.deps.config.TASK_QUEUE,
        args: [{ bookingId, providerId: provider.id, customerId: customer.id, serviceId: service.id, holdExpiresAt: new Date(Date.now() + 1_000).toISOString(), startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), rowGraceMs: 1_000 }],
      });
      expect(await handle.result()).toEqual({ status: 'expired' });
      expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('expired');
    } finally {
      await worker.stop();
    }
    const held = await holdSlot(ctx, customer, service, start);
    expect(held.status).toBe(201);
  });

  it('does not let a hold past its end keep the slot when its timer is late (no worker running): the next hold expires it', async () => {
    const late = createTestContext(testConfig({ SLOT_HOLD_TTL: '1s' }));
    try {
      const provider = await makeProvider(late.deps);
      const service = await makeService(late.deps, provider);
      const first = await makeUser(late.deps);
      const start = localStart(provider.timeZone, 8, 10);
      const stale = await holdSlot(late, first, service, start);
      expect(stale.status).toBe(201);
      const live = await holdSlot(late, await makeUser(late.deps), service, start);
      expect([live.status, live.body.code]).toEqual([409, 'slot_unavailable']);
      await new Promise((r) => setTimeout(r, 1_200));

      const next = await holdSlot(late, await makeUser(late.deps), service, start);

      expect(next.status).toBe(201);
      expect((await late.deps.db('bookings').where({ id: stale.body.id }).first('status')).status).toBe('expired');
      const told = await late.deps.db('notifications').where({ user_id: first.id, type: 'booking_hold_expired' }).pluck('data');
      expect(told).toEqual([expect.objectContaining({ booking_id: stale.body.id })]);
      expect((await liveRows(late.deps, provider.id)).map((r) => r.id)).toEqual([next.body.id]);
    } finally {
      await late.close();
    }
  });

  it("releases a hold nobody booked at its end by the hold's own timer, tells the customer, and frees the slot", async () => {
    // Its own context: holds of 2 s, and a worker to run their timers.
    const timed = createTestContext(testConfig({ SLOT_HOLD_TTL: '2s' }));
    const worker = await startTestWorker(timed.deps);
    try {
      await expiresByItsTimer(timed);
    } finally {
      await worker.stop();
      await timed.close();
    }
  });
});

async function expiresByItsTimer(ctx: TestContext): Promise<void> {
  const provider = await makeProvider(ctx.deps);
  const service = await makeService(ctx.deps, provider);
  const customer = await makeUser(ctx.deps);
  const start = localStart(provider.timeZone, 6, 14);
  const held = await holdSlot(ctx, customer, service, start);
  expect(held.status).toBe(201);
  const id = held.body.id as string;

  const handle = (await ctx.deps.temporal.client()).workflow.getHandle(bookingWorkflowId(id));
  const asleep = await eventually(async () => (await handle.query(bookingStateQuery)).nextTimerAt, 10_000, 'the hold timer set');
  expect(Date.parse(asleep)).toBeGreaterThanOrEqual(Date.parse(held.body.expires_at) - 1_000);

  expect((await handle.result()).status).toBe('expired');
  const row = (await ctx.deps.db('bookings').where({ id }).first('status', 'hold_expires_at', 'ended_at')) as { status: string; hold_expires_at: Date; ended_at: Date };
  expect(row.status).toBe('expired');
  expect(row.ended_at.getTime()).toBeGreaterThanOrEqual(row.hold_expires_at.getTime());
  const notices = await ctx.deps.db('notifications').where({ user_id: customer.id, type: 'booking_hold_expired' }).select('data');
  expect(notices).toEqual([{ data: expect.objectContaining({ booking_id: id }) }]);
  const history = await ctx.deps.db('booking_status_history').where({ booking_id: id }).orderBy('id').pluck('status');
  expect(history).toEqual(['held', 'expired']);
  const description = await handle.describe();
  expect(description.typedSearchAttributes.get(Status)).toBe('expired');
  expect(description.typedSearchAttributes.get(ProviderId)).toBe(provider.id);
  expect(description.typedSearchAttributes.get(CustomerId)).toBe(customer.id);

  const next = await holdSlot(ctx, await makeUser(ctx.deps), service, start);
  expect(next.status).toBe(201);
}
