import { ConfigError, loadConfig } from '../../src/config';
import { DEFAULT_PLANS } from '../../src/billing/plans';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';

const solo = {
  id: 'solo',
  name: 'Solo',
  price_cents: 19_000,
  currency: 'EUR',
  interval: 'year',
  limits: { products: 10, drops_per_month: 1, hot_variants: null },
  transaction_fee_bps: 250,
};

function configProblems(value: string): string[] {
  try {
    loadConfig({ MERCHANT_PLANS: value });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loadConfig accepted a bad MERCHANT_PLANS');
}

describe('GET /v1/plans', () => {
  let ctx: TestContext;
  let custom: TestContext;
  beforeAll(() => {
    ctx = createTestContext();
    custom = createTestContext(testConfig({ MERCHANT_PLANS: JSON.stringify([solo]) }));
  });
  afterAll(async () => {
    await ctx.close();
    await custom.close();
  });

  it('is public and lists the default plans Basic, Grow and Advanced with their price, interval, limits and fee', async () => {
    const res = await ctx.http.get('/v1/plans').expect(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(['Basic', 'Grow', 'Advanced']);
    expect(res.body.data).toEqual(DEFAULT_PLANS);
    for (const p of res.body.data) {
      expect(Object.keys(p).sort()).toEqual(['currency', 'id', 'interval', 'limits', 'name', 'price_cents', 'transaction_fee_bps']);
      expect(Number.isSafeInteger(p.price_cents)).toBe(true);
      expect(['month', 'year']).toContain(p.interval);
      expect(Object.keys(p.limits).sort()).toEqual(['drops_per_month', 'hot_variants', 'products']);
    }
    // Cheaper plans pay a higher transaction fee.
    const fees = res.body.data.map((p: { transaction_fee_bps: number }) => p.transaction_fee_bps);
    expect([...fees].sort((a: number, b: number) => b - a)).toEqual(fees);
  });

  it('lists the MERCHANT_PLANS override instead of the defaults', async () => {
    const res = await custom.http.get('/v1/plans').expect(200);
    expect(res.body).toEqual({ data: [solo] });
  });

  it('is documented in the OpenAPI document', async () => {
    const res = await ctx.http.get('/openapi.json').expect(200);
    expect(res.body.paths['/v1/plans'].get.operationId).toBe('listPlans');
  });
});

describe('MERCHANT_PLANS is validated at start-up', () => {
  it.each([
    ['not JSON', '[{"id": "basic",'],
    ['not a list', JSON.stringify(solo)],
    ['an empty list', '[]'],
    ['a negative price', JSON.stringify([{ ...solo, price_cents: -1 }])],
    ['a fractional price', JSON.stringify([{ ...solo, price_cents: 19.5 }])],
    ['an unknown interval', JSON.stringify([{ ...solo, interval: 'week' }])],
    ['a fee above 100 %', JSON.stringify([{ ...solo, transaction_fee_bps: 10_001 }])],
    ['a lowercase currency', JSON.stringify([{ ...solo, currency: 'eur' }])],
    ['a missing limit', JSON.stringify([{ ...solo, limits: { products: 1, drops_per_month: 1 } }])],
    ['an unknown field', JSON.stringify([{ ...solo, trial_days: 14 }])],
    ['duplicate ids', JSON.stringify([solo, { ...solo, name: 'Solo again' }])],
  ])('refuses %s with a message naming the setting', (_what, value) => {
    const problems = configProblems(value);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/^MERCHANT_PLANS: /);
  });

  it('names the plan and field at fault', () => {
    expect(configProblems(JSON.stringify([solo, { ...solo, id: 'duo', price_cents: -5 }]))).toEqual([expect.stringMatching(/^MERCHANT_PLANS: \[1\]\.price_cents: /)]);
  });

  it('unset or empty gives the defaults', () => {
    expect(loadConfig({}).MERCHANT_PLANS).toEqual(DEFAULT_PLANS);
    expect(loadConfig({ MERCHANT_PLANS: '' }).MERCHANT_PLANS).toEqual(DEFAULT_PLANS);
  });
});
