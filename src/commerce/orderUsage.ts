import type { Knex } from 'knex';
import type { Config } from '../config';
import { findPlan, type Plan } from '../billing/plans';
import { taxRateFor } from '../domain/invoiceMath';
import { platformFeeCents, storeFeeRule } from '../domain/platformFees';

/**
 * What a store's order owes the platform, fixed when the order is placed: the store owner's tax rate (the store
 * owner issues the receipt, so TAX_RATES_BPS is looked up by their user id, else `default`) and the order's usage
 * event (GMV), written in the order's own transaction so an order is counted exactly once.
 */

export type OrderUsageSettings = Pick<Config, 'MERCHANT_PLANS' | 'STORE_DEFAULT_PLAN' | 'PLATFORM_FEE_STORE_FIXED_CENTS'>;

/** The tax rate (bps) a store's orders are charged: its owner's TAX_RATES_BPS entry, else `default`, else 0. */
export async function storeTaxRate(db: Knex, rates: Config['TAX_RATES_BPS'], storeId: string): Promise<number> {
  const store = (await db('stores').where({ id: storeId }).first('owner_id')) as { owner_id: string } | undefined;
  return store ? taxRateFor(rates, store.owner_id) : taxRateFor(rates, 'default');
}

/**
 * The plan a store's sales are charged under: its subscription's while it is active or past due (a late payment
 * does not lower the fee), else STORE_DEFAULT_PLAN. A plan since removed from MERCHANT_PLANS falls back to the
 * default too, so an order is never refused for a configuration change.
 */
export async function storePlan(db: Knex, settings: OrderUsageSettings, storeId: string): Promise<Plan> {
  const sub = (await db('store_subscriptions').where({ store_id: storeId }).whereIn('status', ['active', 'past_due']).first('plan_id')) as { plan_id: string } | undefined;
  const plan = (sub && findPlan(settings.MERCHANT_PLANS, sub.plan_id)) ?? findPlan(settings.MERCHANT_PLANS, settings.STORE_DEFAULT_PLAN);
  if (!plan) throw new Error(`STORE_DEFAULT_PLAN "${settings.STORE_DEFAULT_PLAN}" is not one of MERCHANT_PLANS`);
  return plan;
}

export interface OrderUsage {
  storeId: string;
  orderId: string;
  currency: string;
  /** The order's GMV: its subtotal, before tax (the platform takes no fee on the tax it collects for the seller). */
  subtotalCents: number;
}

/**
 * The order's `gmv` usage event, in the caller's (the order's) transaction, keyed by the order id: a retried or
 * concurrent placement of the same order hits the unique key and adds nothing. Its fee (the plan's bps of the
 * GMV, half-even, plus the fixed fee per order, src/domain/platformFees.ts) is the order's platform fee.
 */
export async function recordOrderUsage(trx: Knex.Transaction, usage: OrderUsage, settings: OrderUsageSettings): Promise<void> {
  const plan = await storePlan(trx, settings, usage.storeId);
  const rule = storeFeeRule(plan.transaction_fee_bps, settings);
  await trx.raw(
    `INSERT INTO usage_events (store_id, kind, source_id, currency, amount_cents, plan_id, fee_bps, fee_fixed_cents, fee_cents)
     VALUES (?, 'gmv', ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (store_id, kind, source_id) DO NOTHING`,
    [usage.storeId, usage.orderId, usage.currency.toUpperCase(), usage.subtotalCents, plan.id, rule.bps, rule.fixedCents, platformFeeCents(usage.subtotalCents, rule)],
  );
}
