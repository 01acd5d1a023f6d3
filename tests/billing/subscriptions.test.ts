import fc from 'fast-check';
import { createSubscriptionCharges } from '../../src/billing/subscriptionCharges';
import { createPlanChanges } from '../../src/billing/subscriptionPlanChanges';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { merchant, subscribe, subscriptionSettings, TEST_PLANS, withTax, type Merchant } from './subscriptionFixtures';

/**
 * Merchant plans through the API (POST/GET/PATCH/DELETE /v1/stores/{id}/subscription) with a real worker for the
 * Updates: first period invoiced and charged at once, 402 leaving nothing active, proration recomputed exactly
 * from the recorded instants, plan limits where products and drops are made, and the credit rule over random
 * sequences of plan changes.
 */
const PERIOD_S = 1000;
const price = (id: string) => TEST_PLANS.find((p) => p.id === id)!.price_cents;

describe('store subscriptions (API)', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  beforeAll(async () => {
    ctx = createTestContext(testConfig(subscriptionSettings(PERIOD_S)));
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
  });

  const db = () => ctx.deps.db;
  const as = (m: Merchant) => ({
    get: () => ctx.http.get(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth),
    patch: (plan_id: string) => ctx.http.patch(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth).send({ plan_id }),
    cancel: () => ctx.http.delete(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth),
  });
  const periodInvoice = async (storeId: string) =>
    (await db()('subscription_periods as p').join('invoices as i', 'i.id', 'p.invoice_id').where('p.store_id', storeId).orderBy('p.period_start').select('i.*', 'p.status as period_status')) as Array<Record<string, any>>;

  it('subscribes: card saved, first period invoiced (price + platform tax) and charged at once, 201 active', async () => {
    const m = await merchant(ctx);
    const res = await subscribe(ctx, m, 'small');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ store_id: m.storeId, plan_id: 'small', status: 'active', cancel_at_period_end: false });
    expect(Date.parse(res.body.current_period_end) - Date.parse(res.body.current_period_start)).toBe(PERIOD_S * 1000);

    const [invoice] = await periodInvoice(m.storeId);
    expect(invoice).toMatchObject({ status: 'finalized', issuer_kind: 'platform', customer_user_id: m.owner.id, source_kind: 'subscription', period_status: 'paid' });
    expect(Number(invoice!.total_cents)).toBe(withTax(3_000));
    expect(invoice!.source_id).toBe(`${m.storeId}:${res.body.current_period_start}`);
    const payments = await db()('payments').where('business_key', 'like', `subscription:${m.storeId}:%`).where({ kind: 'charge' });
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'succeeded', business_key: `subscription:${m.storeId}:${res.body.current_period_start}:1` });
    expect(Number(payments[0].amount_cents)).toBe(Number(invoice!.total_cents));

    expect((await as(m).get()).body).toEqual(res.body);
    expectProblem(await subscribe(ctx, m, 'big'), 409, 'subscription_exists');
  });

  it('another merchant, an unknown plan and a bad card are refused; a declined first charge leaves nothing active (402)', async () => {
    const m = await merchant(ctx);
    const other = { owner: await makeUser(ctx.deps, { role: 'merchant' }), storeId: m.storeId };
    expectProblem(await subscribe(ctx, other, 'small'), 404, 'not_found');
    expectProblem(await as(other).get(), 404, 'not_found');
    expectProblem(await as(other).patch('big'), 404, 'not_found');
    expectProblem(await as(other).cancel(), 404, 'not_found');
    expectProblem(await subscribe(ctx, m, 'nope'), 422, 'unknown_plan');
    expect((await subscribe(ctx, m, 'small', 'card_visa')).status).toBe(400);

    const saveFails = await subscribe(ctx, m, 'small', 'pm_card_chargeDeclined');
    expectProblem(saveFails, 402, 'payment_declined');
    const chargeFails = await subscribe(ctx, m, 'small', 'pm_card_chargeCustomerFail');
    expectProblem(chargeFails, 402, 'payment_declined');
    expect(chargeFails.body.decline_code).toBe('generic_decline');
    expectProblem(await as(m).get(), 404, 'not_found');
    const [voided] = await periodInvoice(m.storeId);
    expect(voided).toMatchObject({ status: 'void', period_status: 'void' });

    const ok = await subscribe(ctx, m, 'small');
    expect(ok.status).toBe(201);
    expect((await periodInvoice(m.storeId)).map((i) => i.status)).toEqual(['void', 'finalized']);
  });

  it('PATCH prorates to the second: upgrade charges the difference on its own invoice, downgrade carries a credit', async () => {
    const m = await merchant(ctx);
    const sub = (await subscribe(ctx, m, 'small')).body;
    const end = Date.parse(sub.current_period_end) / 1000;
    const periodS = end - Date.parse(sub.current_period_start) / 1000;

    expectProblem(await as(m).patch('small'), 409, 'same_plan');
    expectProblem(await as(m).patch('nope'), 422, 'unknown_plan');
    expectProblem(await as(m).patch('yearly'), 422, 'unknown_plan');

    const up = await as(m).patch('big');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ plan_id: 'big', status: 'active', credit_balance_cents: 0 });
    const [c1] = await db()('subscription_changes').where({ store_id: m.storeId }).orderBy('at');
    const left1 = end - Math.floor(c1.at.getTime() / 1000);
    const credit1 = Math.floor((3_000 * left1) / periodS);
    const charge1 = Math.ceil((9_000 * left1) / periodS);
    expect({ credit: Number(c1.credit_cents), charge: Number(c1.charge_cents), net: Number(c1.net_charge_cents), carried: Number(c1.credit_carried_cents) }).toEqual({
      credit: credit1,
      charge: charge1,
      net: charge1 - credit1,
      carried: 0,
    });
    const inv1 = await db()('invoices').where({ id: c1.invoice_id }).first();
    expect(inv1).toMatchObject({ status: 'finalized', source_id: `${m.storeId}:${sub.current_period_start}:change:1` });
    expect(Number(inv1.total_cents)).toBe(withTax(charge1 - credit1));
    const pay1 = await db()('payments').where({ business_key: `subscription:${m.storeId}:${sub.current_period_start}:change:1` }).first();
    expect(pay1).toMatchObject({ status: 'succeeded', kind: 'charge' });
    expect(Number(pay1.amount_cents)).toBe(Number(inv1.total_cents));

    const down = await as(m).patch('small');
    expect(down.status).toBe(200);
    const [, c2] = await db()('subscription_changes').where({ store_id: m.storeId }).orderBy('at');
    const left2 = end - Math.floor(c2.at.getTime() / 1000);
    const paidFrom = Math.floor(c1.at.getTime() / 1000);
    const credit2 = Math.floor((charge1 * left2) / (end - paidFrom));
    const charge2 = Math.ceil((3_000 * left2) / periodS);
    expect(Number(c2.credit_cents)).toBe(credit2);
    expect(Number(c2.charge_cents)).toBe(charge2);
    expect(c2.invoice_id).toBeNull();
    expect(down.body.credit_balance_cents).toBe(credit2 - charge2);
    expect(credit2).toBeGreaterThan(charge2);
    expect(Number(c2.credit_carried_cents)).toBe(credit2 - charge2);
  });

  it('two subscribe requests at once: one is charged and made active, the other is 409', async () => {
    const m = await merchant(ctx);
    const answers = await Promise.all([subscribe(ctx, m, 'small'), subscribe(ctx, m, 'big'), subscribe(ctx, m, 'small')]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const charges = await db()('payments').where('business_key', 'like', `subscription:${m.storeId}:%`).where({ kind: 'charge' });
    expect(charges.map((c) => c.status)).toEqual(['succeeded']);
    expect(await db()('subscription_periods').where({ store_id: m.storeId })).toHaveLength(1);
  });

  it('DELETE cancels at the period end', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small');
    const res = await as(m).cancel();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', cancel_at_period_end: true });
    expect((await as(m).cancel()).status).toBe(200);
  });

  const product = (m: Merchant, hot = 0) =>
    ctx.http
      .post(`/v1/stores/${m.storeId}/products`)
      .set('Authorization', m.owner.auth)
      .send({
        name: 'Tee',
        base_price_cents: 1_000,
        status: 'active',
        variants: Array.from({ length: Math.max(1, hot) }, (_, i) => ({ sku: `SKU-${Math.random().toString(36).slice(2, 10)}-${i}`, attributes: {}, price_modifier_cents: 0, inventory_count: 5, hot: i < hot })),
      });
  const drop = (m: Merchant, variantId: string) =>
    ctx.http
      .post(`/v1/stores/${m.storeId}/drops`)
      .set('Authorization', m.owner.auth)
      .send({ variant_id: variantId, quantity: 1, mode: 'lottery', opens_at: new Date(Date.now() + 3_600_000).toISOString(), closes_at: new Date(Date.now() + 7_200_000).toISOString() });

  it('plan limits: products, hot variants and drops per month refused past the plan (409 plan_limit_reached naming the limit)', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small'); // products 2, hot variants 1, drops per month 1
    const first = await product(m, 1);
    expect(first.status).toBe(201);
    const hot = await product(m, 1);
    expectProblem(hot, 409, 'plan_limit_reached');
    expect(hot.body).toMatchObject({ limit: 'hot_variants', max: 1, used: 1, plan_id: 'small' });
    expect((await product(m)).status).toBe(201);
    const third = await product(m);
    expectProblem(third, 409, 'plan_limit_reached');
    expect(third.body).toMatchObject({ limit: 'products', max: 2, used: 2 });

    const variantId = first.body.variants[0].id as string;
    expect((await drop(m, variantId)).status).toBe(201);
    const second = await drop(m, variantId);
    expectProblem(second, 409, 'plan_limit_reached');
    expect(second.body).toMatchObject({ limit: 'drops_per_month', max: 1 });

    // A bigger plan lifts them at once.
    expect((await as(m).patch('big')).status).toBe(200);
    expect((await product(m, 2)).status).toBe(201);
    expect((await drop(m, variantId)).status).toBe(201);
  });

  it('a store without a subscription is unmetered; a past-due one starts no drops (409 subscription_past_due)', async () => {
    const free = await merchant(ctx);
    for (let i = 0; i < 4; i++) expect((await product(free, 2)).status).toBe(201);

    const m = await merchant(ctx);
    await subscribe(ctx, m, 'big');
    const variantId = (await product(m)).body.variants[0].id as string;
    await db()('store_subscriptions').where({ store_id: m.storeId }).update({ status: 'past_due' });
    const refused = await drop(m, variantId);
    expectProblem(refused, 409, 'subscription_past_due');
    expect(Number((await db()('drops').where({ store_id: m.storeId }).count({ n: '*' }).first())!.n)).toBe(0);
    expectProblem(await as(m).patch('small'), 409, 'subscription_not_active');
    await db()('store_subscriptions').where({ store_id: m.storeId }).update({ status: 'active' });
  });

  it('two products racing for the last slot of the plan: exactly one is made', async () => {
    const m = await merchant(ctx);
    await subscribe(ctx, m, 'small');
    expect((await product(m)).status).toBe(201);
    const answers = await Promise.all(Array.from({ length: 6 }, () => product(m)));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(Number((await db()('products').where({ store_id: m.storeId }).count({ n: '*' }).first())!.n)).toBe(2);
  });

  it('property: over random plan-change sequences in a period, credits never exceed what was paid, and each change is exact', async () => {
    const charges = createSubscriptionCharges(ctx.deps);
    const changes = createPlanChanges({ ...ctx.deps, charges });
    const planIds = ['small', 'big', 'huge'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ plan: fc.constantFrom(...planIds), afterS: fc.integer({ min: 0, max: 300 }) }), { minLength: 1, maxLength: 6 }),
        async (steps) => {
          const m = await merchant(ctx);
          const sub = (await subscribe(ctx, m, 'small')).body;
          const start = Date.parse(sub.current_period_start);
          const end = Date.parse(sub.current_period_end);
          let current = 'small';
          let at = start;
          let paid = price('small');
          let paidFrom = start;
          let totalPaid = price('small');
          let totalCredit = 0;
          let carried = 0;
          let n = 0;
          for (const step of steps) {
            at = Math.min(end, at + step.afterS * 1000);
            if (step.plan === current) continue;
            n++;
            const c = await changes.prepare({ storeId: m.storeId, planId: step.plan, at: new Date(at), n });
            await changes.payAndApply({ changeId: c.id });
            const left = (end - at) / 1000;
            const covered = (end - paidFrom) / 1000;
            const credit = covered === 0 ? 0 : Math.floor((paid * left) / covered);
            const charge = Math.ceil((price(step.plan) * left) / ((end - start) / 1000));
            expect({ credit: c.credit_cents, charge: c.charge_cents }).toEqual({ credit, charge });
            expect(c.credit_cents).toBeLessThanOrEqual(paid);
            totalCredit += credit;
            totalPaid += charge;
            carried += Math.max(0, credit - charge);
            paid = charge;
            paidFrom = at;
            current = step.plan;
            expect(totalCredit).toBeLessThanOrEqual(totalPaid);
          }
          const row = await db()('store_subscriptions').where({ store_id: m.storeId }).first();
          expect(Number(row.credit_balance_cents)).toBe(carried);
          // What was charged now (before tax) plus the credit carried equals charges less credits plus the first payment's use.
          const nets = await db()('subscription_changes').where({ store_id: m.storeId, status: 'applied' }).select('net_charge_cents', 'credit_carried_cents', 'charge_cents', 'credit_cents');
          for (const x of nets) expect(Number(x.net_charge_cents) - Number(x.credit_carried_cents)).toBe(Number(x.charge_cents) - Number(x.credit_cents));
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
