import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import Stripe from 'stripe';
import { sellerBalances } from '../../src/billing/balances';
import { feeInvoiceSourceId } from '../../src/billing/contract';
import { createDraftInvoice, finalizeInvoice } from '../../src/billing/invoices';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';
import { STRIPE_API_VERSION } from '../../src/payments/stripeGateway';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { makeSeller, recordRefund, recordSale } from './payoutFixtures';

/**
 * Seller balances: pending / available / paid out per currency, exact over a mixed set of entries (property test
 * against a model), and the seller-only routes: GET /v1/me/balance, /v1/me/payouts, /v1/me/fees and the payout
 * account (POST|GET /v1/me/payout-account), each caller seeing only their own.
 */

const WEBHOOK_SECRET = 'whsec_payouts_test';
let ctx: TestContext;
const db = () => ctx.deps.db;

beforeAll(() => {
  ctx = createTestContext(testConfig({ STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET }));
});
afterAll(async () => {
  await ctx.close();
});

describe('balance arithmetic', () => {
  const HOUR = 3_600_000;

  it('pending = Σ entries not yet available, available = Σ entries available (negative allowed), paid out = Σ paid payouts, per currency', async () => {
    // Entries at offsets from a fixed instant `at`: before or at it is available, after it (or infinity) pending.
    const entry = fc.record({
      currency: fc.constantFrom('EUR', 'USD'),
      captured: fc.integer({ min: 1, max: 1_000_000 }),
      feeBps: fc.integer({ min: 0, max: 10_000 }),
      offsetHours: fc.oneof(fc.integer({ min: -400, max: 400 }), fc.constant(0), fc.constant(Number.POSITIVE_INFINITY)),
    });
    const payout = fc.record({ currency: fc.constantFrom('EUR', 'USD'), amount: fc.integer({ min: 1, max: 500_000 }), status: fc.constantFrom('scheduled', 'paid', 'failed') });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 12 }), fc.array(payout, { maxLength: 4 }), async (entries, payouts) => {
        const seller = await makeUser(ctx.deps, { role: 'creator' });
        const at = new Date(Date.UTC(2026, 5, 15, 12));
        const model = new Map<string, { pending: number; available: number; paid: number }>();
        const add = (c: string, k: 'pending' | 'available' | 'paid', v: number) => {
          const m = model.get(c) ?? { pending: 0, available: 0, paid: 0 };
          m[k] += v;
          model.set(c, m);
        };
        for (const e of entries) {
          const fee = Math.floor((e.captured * e.feeBps) / 10_000);
          const availableAt = e.offsetHours === Number.POSITIVE_INFINITY ? 'infinity' : new Date(at.getTime() + e.offsetHours * HOUR);
          await recordSale(db(), seller.id, { capturedCents: e.captured, feeCents: fee, currency: e.currency, availableAt });
          add(e.currency, availableAt !== 'infinity' && availableAt.getTime() <= at.getTime() ? 'available' : 'pending', e.captured - fee);
        }
        // A payout's entry is available at once (−amount); a failed one's reversal gives it back (+amount).
        for (const p of payouts) {
          const key = `test-payout:${randomUUID()}`;
          const [row] = (await db()('payouts')
            .insert({ seller_user_id: seller.id, currency: p.currency, amount_cents: p.amount, status: p.status, business_key: key })
            .returning('id')) as Array<{ id: string }>;
          const entries = [{ kind: 'payout', amount_cents: -p.amount, business_key: key }, ...(p.status === 'failed' ? [{ kind: 'payout_reversal', amount_cents: p.amount, business_key: `${key}:reversal` }] : [])];
          await db()('balance_entries').insert(entries.map((e) => ({ ...e, seller_user_id: seller.id, currency: p.currency, payout_id: row!.id, available_at: new Date(at.getTime() - HOUR) })));
          if (p.status !== 'failed') add(p.currency, 'available', -p.amount);
          if (p.status === 'paid') add(p.currency, 'paid', p.amount);
          if (p.status === 'failed') add(p.currency, 'available', 0);
        }
        const expected = [...model.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([currency, m]) => ({ currency, pending_cents: m.pending, available_cents: m.available, paid_out_cents: m.paid }));
        expect(await sellerBalances(db(), seller.id, at)).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });

  it('a refund is available at once: it may take the available balance below zero while the sale is still pending', async () => {
    const seller = await makeUser(ctx.deps, { role: 'merchant' });
    const charge = await recordSale(db(), seller.id, { capturedCents: 10_000, feeCents: 500, availableAt: 'infinity' });
    await recordRefund(ctx.deps, charge, 2_500);
    expect(await sellerBalances(db(), seller.id)).toEqual([{ currency: 'EUR', pending_cents: 9_500, available_cents: -2_500, paid_out_cents: 0 }]);
  });
});

describe('GET /v1/me/balance, /v1/me/payouts', () => {
  it('answers the caller’s balance per currency (the first currency’s numbers at the top level), and nobody else’s', async () => {
    const seller = await makeSeller(ctx, 'none', 'merchant');
    const other = await makeSeller(ctx, 'none');
    await recordSale(db(), seller.id, { capturedCents: 7_000, feeCents: 700, currency: 'USD' });
    await recordSale(db(), seller.id, { capturedCents: 3_000, feeCents: 300, currency: 'EUR', availableAt: new Date(Date.now() + 86_400_000) });
    await recordSale(db(), other.id, { capturedCents: 99_999 });

    const res = await ctx.http.get('/v1/me/balance').set('Authorization', seller.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      currency: 'EUR',
      pending_cents: 2_700,
      available_cents: 0,
      paid_out_cents: 0,
      data: [
        { currency: 'EUR', pending_cents: 2_700, available_cents: 0, paid_out_cents: 0 },
        { currency: 'USD', pending_cents: 0, available_cents: 6_300, paid_out_cents: 0 },
      ],
    });
    const fresh = await makeSeller(ctx, 'none');
    expect((await ctx.http.get('/v1/me/balance').set('Authorization', fresh.auth)).body).toEqual({ currency: null, pending_cents: 0, available_cents: 0, paid_out_cents: 0, data: [] });
  });

  it('is for sellers only: a backer gets 403, no token 401', async () => {
    const backer = await makeUser(ctx.deps);
    for (const path of ['/v1/me/balance', '/v1/me/payouts', '/v1/me/fees', '/v1/me/payout-account']) {
      expectProblem(await ctx.http.get(path).set('Authorization', backer.auth), 403, 'forbidden');
      expect((await ctx.http.get(path)).status).toBe(401);
    }
    expectProblem(await ctx.http.post('/v1/me/payout-account').set('Authorization', backer.auth).send({ country: 'DE' }), 403, 'forbidden');
  });

  it('lists the caller’s payouts newest first, a page at a time, and refuses a bad cursor or limit', async () => {
    const seller = await makeSeller(ctx, 'none');
    const other = await makeSeller(ctx, 'none');
    const ids: string[] = [];
    for (const [i, who] of [seller, seller, other, seller].entries()) {
      const [row] = (await db()('payouts')
        .insert({ seller_user_id: who.id, currency: 'EUR', amount_cents: 100 * (i + 1), status: i === 1 ? 'failed' : 'paid', failure_code: i === 1 ? 'account_closed' : null, business_key: `test-list:${randomUUID()}`, created_at: new Date(Date.now() - (10 - i) * 1000) })
        .returning('id')) as Array<{ id: string }>;
      if (who === seller) ids.unshift(row!.id);
    }
    const first = await ctx.http.get('/v1/me/payouts?limit=2').set('Authorization', seller.auth);
    expect(first.status).toBe(200);
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual(ids.slice(0, 2));
    expect(first.body.data[1]).toEqual({ id: ids[1], amount_cents: 200, currency: 'EUR', status: 'failed', arrival_at: null, failure_code: 'account_closed', created_at: expect.any(String) });
    const second = await ctx.http.get(`/v1/me/payouts?limit=2&cursor=${first.body.next_cursor}`).set('Authorization', seller.auth);
    expect(second.body).toEqual({ data: [expect.objectContaining({ id: ids[2], amount_cents: 100 })], next_cursor: null });
    expectProblem(await ctx.http.get('/v1/me/payouts?cursor=nope').set('Authorization', seller.auth), 400, 'validation_failed');
    expectProblem(await ctx.http.get('/v1/me/payouts?limit=0').set('Authorization', seller.auth), 400, 'validation_failed');
  });
});

describe('GET /v1/me/fees', () => {
  it('lists the platform’s fee invoices to the caller, the current month’s draft included, newest first; not other sellers’, not other invoices', async () => {
    const seller = await makeSeller(ctx, 'none', 'merchant');
    const other = await makeSeller(ctx, 'none', 'merchant');
    const feeInvoice = (who: { id: string }, month: string, kind: 'fees' | 'subscription' = 'fees') =>
      createDraftInvoice(
        db(),
        { issuer: { kind: 'platform' }, customerUserId: who.id, currency: 'EUR', source: { kind, id: kind === 'fees' ? feeInvoiceSourceId(who.id, month) : `${randomUUID()}:${month}` }, lines: [{ description: `Platform fees ${month}`, quantity: 1, unitAmountCents: 1_234 }] },
        ctx.deps.config,
      );
    const closed = await feeInvoice(seller, '2026-10');
    await finalizeInvoice(db(), closed.id);
    const current = await feeInvoice(seller, '2026-11');
    await feeInvoice(other, '2026-11');
    await feeInvoice(seller, '2026-11', 'subscription');

    const res = await ctx.http.get('/v1/me/fees').set('Authorization', seller.auth);
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([
      [current.id, 'draft'],
      [closed.id, 'finalized'],
    ]);
    expect(res.body.data[1]).toMatchObject({ issuer: { kind: 'platform' }, customer: { user_id: seller.id }, number: expect.any(String), subtotal_cents: 1_234 });
    const paged = await ctx.http.get('/v1/me/fees?limit=1').set('Authorization', seller.auth);
    expect(paged.body.data.map((i: { id: string }) => i.id)).toEqual([current.id]);
    const rest = await ctx.http.get(`/v1/me/fees?limit=1&cursor=${paged.body.next_cursor}`).set('Authorization', seller.auth);
    expect(rest.body).toMatchObject({ data: [{ id: closed.id }], next_cursor: null });
  });
});

describe('POST|GET /v1/me/payout-account', () => {
  it('opens a creator’s account once (201), answers it again (200, same account), and GET reads it', async () => {
    const seller = await makeUser(ctx.deps, { role: 'creator' });
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', seller.auth)).body).toEqual({ status: 'missing' });
    expectProblem(await ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth).send({}), 400, 'validation_failed');
    expectProblem(await ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth).send({ country: 'germany' }), 400, 'validation_failed');
    const [a, b] = await Promise.all([
      ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth).send({ country: 'DE' }),
      ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth).send({ country: 'DE' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 201]);
    expect(a.body).toEqual({ status: 'ready', account_id: expect.stringMatching(/^acct_/) });
    expect(b.body.account_id).toBe(a.body.account_id);
    const again = await ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(a.body);
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', seller.auth)).body).toEqual(a.body);
    expect(await db()('seller_payout_accounts').where({ user_id: seller.id }).select('account_id', 'status', 'country')).toEqual([{ account_id: a.body.account_id, status: 'ready', country: 'DE' }]);
  });

  it('keeps a pending account pending with a fresh onboarding url until the seller finishes the hosted onboarding', async () => {
    const seller = await makeSeller(ctx, 'pending', 'merchant');
    const res = await ctx.http.post('/v1/me/payout-account').set('Authorization', seller.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'pending', account_id: seller.accountId, onboarding_url: expect.stringMatching(/^https:\/\//) });
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', seller.auth)).body).toEqual({ status: 'pending', account_id: seller.accountId });
    await (ctx.deps.payments as SimulatedGateway).simulateAccountOnboarded(seller.accountId!);
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', seller.auth)).body).toEqual({ status: 'ready', account_id: seller.accountId });
    expect(await db()('seller_payout_accounts').where({ user_id: seller.id }).first('status')).toEqual({ status: 'ready' });
  });

  it('records what the payment provider’s signed account.updated webhook says of a seller’s account (never ready back to pending)', async () => {
    const seller = await makeSeller(ctx, 'pending');
    const accountUpdated = (ready: boolean) => {
      const payload = JSON.stringify({
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        object: 'event',
        type: 'account.updated',
        api_version: STRIPE_API_VERSION,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: { object: { id: seller.accountId, object: 'account', type: 'express', details_submitted: ready, payouts_enabled: ready, charges_enabled: ready } },
      });
      return ctx.http
        .post('/v1/webhooks/stripe')
        .set('Content-Type', 'application/json')
        .set('Stripe-Signature', Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }))
        .send(payload);
    };
    const status = async () => ((await db()('seller_payout_accounts').where({ user_id: seller.id }).first('status')) as { status: string }).status;
    expect((await accountUpdated(true)).status).toBe(200);
    expect(await status()).toBe('ready');
    expect((await accountUpdated(false)).status).toBe(200);
    expect(await status()).toBe('ready');
  });
});
