import { lineAmounts } from '../../src/domain/invoiceMath';
import type { TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { createStore } from '../commerce/fixtures';

/**
 * Subscription fixtures: small plans with round prices and tight limits (MERCHANT_PLANS), a platform tax rate, and
 * fixed periods (SUBSCRIPTION_PERIOD) so tests cross period ends in seconds.
 */
export const TEST_PLANS = [
  { id: 'small', name: 'Small', price_cents: 3_000, currency: 'USD', interval: 'month', limits: { products: 2, drops_per_month: 1, hot_variants: 1 }, transaction_fee_bps: 200 },
  { id: 'big', name: 'Big', price_cents: 9_000, currency: 'USD', interval: 'month', limits: { products: null, drops_per_month: 5, hot_variants: 3 }, transaction_fee_bps: 100 },
  { id: 'huge', name: 'Huge', price_cents: 20_000, currency: 'USD', interval: 'month', limits: { products: null, drops_per_month: null, hot_variants: null }, transaction_fee_bps: 50 },
  { id: 'yearly', name: 'Yearly', price_cents: 30_000, currency: 'USD', interval: 'year', limits: { products: null, drops_per_month: null, hot_variants: null }, transaction_fee_bps: 50 },
];

/** 10 % platform tax: invoice totals are price + 10 % (half-even per line). */
export const subscriptionSettings = (periodSeconds: number, retrySchedule = '2s,2s'): Record<string, string> => ({
  MERCHANT_PLANS: JSON.stringify(TEST_PLANS),
  TAX_RATES_BPS: 'default=0,platform=1000',
  SUBSCRIPTION_PERIOD: `${periodSeconds}s`,
  SUBSCRIPTION_RETRY_SCHEDULE: retrySchedule,
});

/** An invoice's total for one line of `cents` at the platform's 10 %. */
export const withTax = (cents: number) => {
  const l = lineAmounts(1, cents, 1000);
  return l.amount_cents + l.tax_cents;
};

export interface Merchant {
  owner: TestUser;
  storeId: string;
}

export async function merchant(ctx: TestContext): Promise<Merchant> {
  const owner = await makeUser(ctx.deps, { role: 'merchant' });
  return { owner, storeId: await createStore(ctx, owner, 'Plans') };
}

export const subscribe = (ctx: TestContext, m: Merchant, planId: string, paymentMethod = 'pm_card_visa') =>
  ctx.http.post(`/v1/stores/${m.storeId}/subscription`).set('Authorization', m.owner.auth).send({ plan_id: planId, payment_method: paymentMethod });
