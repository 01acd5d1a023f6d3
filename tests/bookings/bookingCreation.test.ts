import { randomUUID } from 'node:crypto';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { gatewayIntentCount, makeUser } from '../helpers/fixtures';
import { makeProvider, makeService } from './fixtures';
import { book, holdSlot, localStart } from './holdHelpers';

/**
 * Booking a held slot through the real API, payments on the simulated gateway: one booking and one authorization
 * however often one request is retried (counted at the gateway, in our payments rows and on the ledger), a
 * declined card keeps the hold for another card, and only a live hold of the caller's own can be booked.
 */

const paymentsOf = (ctx: TestContext, bookingId: string) =>
  ctx.deps.db('payments').where('business_key', 'like', `booking:${bookingId}:%`).orderBy('created_at').select('business_key', 'kind', 'status', 'amount_cents', 'payment_method');

describe('booking a held slot', () => {
  let ctx: TestContext;

  beforeAll(() => {
    // Bookings starting within 3 days hold the money now; later ones save the card.
    ctx = createTestContext(testConfig({ BOOKING_AUTHORIZATION_WINDOW: '3d' }));
  });
  afterAll(async () => {
    await ctx?.close();
  });

  async function heldSlot(days = 1, hour = 10, spec: Parameters<typeof makeService>[2] = {}) {
    const provider = await makeProvider(ctx.deps);
    const service = await makeService(ctx.deps, provider, spec);
    const customer = await makeUser(ctx.deps);
    const held = await holdSlot(ctx, customer, service, localStart(provider.timeZone, days, hour));
    expect(held.status).toBe(201);
    return { provider, service, customer, holdId: held.body.id as string };
  }

  it('books a held slot once, with one authorization of the quoted price, however often one request is retried (10 sequential, 10 at once)', async () => {
    const { provider, customer, holdId } = await heldSlot(1, 10, { basePriceCents: 7_300 });
    const key = randomUUID();

    const together = await Promise.all(Array.from({ length: 10 }, () => book(ctx, customer, holdId, 'pm_card_visa', key)));
    const sequential = [];
    for (let i = 0; i < 10; i++) sequential.push(await book(ctx, customer, holdId, 'pm_card_visa', key));

    // Concurrent twins see the first still running (409 request_in_progress); every answer after it is its replay.
    for (const r of together) expect([201, 409]).toContain(r.status);
    expect(together.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    for (const r of sequential) expect(r.status).toBe(201);
    const bodies = [...together, ...sequential].filter((r) => r.status === 201).map((r) => r.body);
    for (const b of bodies) expect(b).toEqual(bodies[0]);
    expect(bodies[0]).toMatchObject({ id: holdId, status: 'confirmed', price_cents: 7_300, currency: 'EUR', provider_id: provider.id, payment_method: 'pm_card_visa' });

    const row = await ctx.deps.db('bookings').where({ id: holdId }).first('status', 'payment_key');
    expect(row).toEqual({ status: 'confirmed', payment_key: `booking:${holdId}:authorize` });
    expect(await gatewayIntentCount(ctx.deps, `booking:${holdId}:authorize`)).toBe(1);
    expect(await paymentsOf(ctx, holdId)).toEqual([
      { business_key: `booking:${holdId}:authorize`, kind: 'authorization', status: 'requires_capture', amount_cents: 7300, payment_method: 'pm_card_visa' },
    ]);
    const ledger = await ctx.deps.db('ledger_transactions').where({ booking_id: holdId }).select('kind', 'amount_cents', 'business_key');
    expect(ledger).toEqual([{ kind: 'authorization', amount_cents: 7300, business_key: `booking:${holdId}:authorize` }]);
    const history = await ctx.deps.db('booking_status_history').where({ booking_id: holdId }).orderBy('id').pluck('status');
    expect(history).toEqual(['held', 'confirmed']);
    const notices = await ctx.deps.db('notifications').whereRaw(`data->>'booking_id' = ?`, [holdId]).where({ type: 'booking_confirmed' }).pluck('user_id');
    expect(notices.sort()).toEqual([customer.id, provider.owner.id].sort());

    // The same hold booked again under another key is not a second booking.
    const again = await book(ctx, customer, holdId, 'pm_card_visa', randomUUID());
    expect([again.status, again.body.code]).toEqual([409, 'already_booked']);
  });

  it('keeps the hold after a declined card (402) so another card books it, each card with its own key', async () => {
    const { customer, holdId } = await heldSlot();
    const declined = await book(ctx, customer, holdId, 'pm_card_chargeDeclined');
    expect([declined.status, declined.body.code, declined.body.decline_code]).toEqual([402, 'payment_declined', 'generic_decline']);
    expect((await ctx.deps.db('bookings').where({ id: holdId }).first('status')).status).toBe('held');

    const needsAction = await book(ctx, customer, holdId, 'pm_card_authenticationRequired');
    expect([needsAction.status, needsAction.body.code]).toEqual([402, 'requires_action']);
    expect(needsAction.body.next_action.client_secret).toEqual(expect.any(String));

    const ok = await book(ctx, customer, holdId, 'pm_card_visa');
    expect([ok.status, ok.body.status]).toEqual([201, 'confirmed']);
    expect(await paymentsOf(ctx, holdId)).toEqual([
      expect.objectContaining({ business_key: `booking:${holdId}:authorize`, status: 'failed', payment_method: 'pm_card_chargeDeclined' }),
      // The card left waiting for authentication is voided when another card is tried.
      expect.objectContaining({ business_key: `booking:${holdId}:authorize:2`, status: 'canceled', payment_method: 'pm_card_authenticationRequired' }),
      expect.objectContaining({ business_key: `booking:${holdId}:authorize:3`, status: 'requires_capture', payment_method: 'pm_card_visa' }),
    ]);
    expect((await ctx.deps.db('bookings').where({ id: holdId }).first('payment_key')).payment_key).toBe(`booking:${holdId}:authorize:3`);
  });

  it('books a hold once when two different cards are tried on it at once: the other card is not charged', async () => {
    for (let round = 0; round < 3; round++) {
      const { customer, holdId } = await heldSlot(1, 13 + round);
      const [a, b] = await Promise.all([book(ctx, customer, holdId, 'pm_card_visa'), book(ctx, customer, holdId, 'pm_card_mastercard')]);

      const [won, lost] = a!.status === 201 ? [a!, b!] : [b!, a!];
      expect(won.status).toBe(201);
      // The other one found the booking made, or its card fenced out by the other card's attempt.
      expect([lost.status, ['already_booked', 'payment_superseded'].includes(lost.body.code)]).toEqual([409, true]);
      const row = await ctx.deps.db('bookings').where({ id: holdId }).first('status', 'payment_key');
      expect(row.status).toBe('confirmed');
      // Exactly one payment of the booking still holds money: the one it stands on.
      const live = (await paymentsOf(ctx, holdId)).filter((p) => p.status === 'requires_capture');
      expect(live.map((p) => p.business_key)).toEqual([row.payment_key]);
    }
  });

  it('books with the same card once the customer has authenticated (3-D Secure), reusing its attempt', async () => {
    const { customer, holdId } = await heldSlot(1, 12);
    const needsAction = await book(ctx, customer, holdId, 'pm_card_authenticationRequired');
    expect([needsAction.status, needsAction.body.code, needsAction.body.hold_id]).toEqual([402, 'requires_action', holdId]);
    const pending = await ctx.deps.db('payments').where({ business_key: `booking:${holdId}:authorize` }).first('provider_payment_id');

    await (ctx.deps.payments as SimulatedGateway).simulateCustomerAction(pending.provider_payment_id, 'authenticated');
    const booked = await book(ctx, customer, holdId, 'pm_card_authenticationRequired');

    expect([booked.status, booked.body.status]).toEqual([201, 'confirmed']);
    expect(await paymentsOf(ctx, holdId)).toEqual([expect.objectContaining({ business_key: `booking:${holdId}:authorize`, status: 'requires_capture' })]);
    expect(await gatewayIntentCount(ctx.deps, `booking:${holdId}:authorize`)).toBe(1);
  });

  it('saves the card instead when the start is beyond the authorization window', async () => {
    const { customer, holdId } = await heldSlot(5);
    const booked = await book(ctx, customer, holdId);
    expect([booked.status, booked.body.status]).toEqual([201, 'confirmed']);
    expect(await paymentsOf(ctx, holdId)).toEqual([expect.objectContaining({ business_key: `booking:${holdId}:setup`, kind: 'setup', status: 'succeeded' })]);
    expect(await gatewayIntentCount(ctx.deps, `booking:${holdId}:authorize`)).toBe(0);
    expect(await ctx.deps.db('ledger_transactions').where({ booking_id: holdId })).toEqual([]);
  });

  it("answers 410 hold_expired for a hold past its end, 404 for someone else's hold, and 400 without an Idempotency-Key", async () => {
    const short = createTestContext(testConfig({ SLOT_HOLD_TTL: '1s' }));
    try {
      const provider = await makeProvider(short.deps);
      const service = await makeService(short.deps, provider);
      const customer = await makeUser(short.deps);
      const held = await holdSlot(short, customer, service, localStart(provider.timeZone, 1, 15));
      expect(held.status).toBe(201);
      await new Promise((r) => setTimeout(r, 1_200));
      const late = await book(short, customer, held.body.id);
      expect([late.status, late.body.code]).toEqual([410, 'hold_expired']);
      expect(await paymentsOf(short, held.body.id)).toEqual([]);
    } finally {
      await short.close();
    }

    const { holdId } = await heldSlot();
    const stranger = await makeUser(ctx.deps);
    const theirs = await book(ctx, stranger, holdId);
    expect(theirs.status).toBe(404);
    const noKey = await ctx.http.post('/v1/bookings').set('Authorization', stranger.auth).send({ hold_id: holdId, payment_method: 'pm_card_visa' });
    expect([noKey.status, noKey.body.code]).toEqual([400, 'idempotency_key_required']);
    expect((await ctx.deps.db('bookings').where({ id: holdId }).first('status')).status).toBe('held');
  });
});
