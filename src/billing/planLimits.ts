import type { Knex } from 'knex';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import { PLAN_LIMIT_REACHED, SUBSCRIPTION_PAST_DUE, type PlanLimitName, type SubscriptionStatus } from './contract';
import { findPlan, type Plan } from './plans';

/**
 * A store's plan limits, checked where things are made (products, hot variants, drops), inside the creating
 * transaction. The rule for who is limited: a store with a live subscription (active, past due or unpaid) has its
 * plan's limits; a store without one (never subscribed, a first payment not made, or canceled) is unmetered:
 * STORE_DEFAULT_PLAN's transaction fee applies to it, but no limits, as before plans existed.
 * The subscription row is locked (FOR UPDATE) for the rest of the caller's transaction, so two creations in one
 * store are counted one after the other and never both squeeze under a limit.
 * A store past due or unpaid may not start drops (409 subscription_past_due).
 */

type PlanSettings = Pick<Config, 'MERCHANT_PLANS'>;

const LIVE: readonly SubscriptionStatus[] = ['active', 'past_due', 'unpaid'];

/** The plan whose limits apply to the store (the row locked), or undefined for an unmetered store. */
async function limitingPlan(trx: Knex.Transaction, settings: PlanSettings, storeId: string): Promise<{ plan: Plan; status: SubscriptionStatus } | undefined> {
  const sub = (await trx('store_subscriptions').where({ store_id: storeId }).forUpdate().first('plan_id', 'status')) as
    | { plan_id: string; status: SubscriptionStatus }
    | undefined;
  if (!sub || !LIVE.includes(sub.status)) return undefined;
  const plan = findPlan(settings.MERCHANT_PLANS, sub.plan_id);
  // A plan dropped from MERCHANT_PLANS since: its limits are unknown, so none are enforced.
  return plan && { plan, status: sub.status };
}

function refuseOver(plan: Plan, limit: PlanLimitName, used: number, adding: number): void {
  const max = plan.limits[limit];
  if (max === null || used + adding <= max) return;
  throw refusals.conflict(PLAN_LIMIT_REACHED, `The ${plan.name} plan allows ${max} ${limit.replace(/_/g, ' ')}; this store has ${used}.`, {
    limit,
    plan_id: plan.id,
    max,
    used,
  });
}

const count = async (q: Knex.QueryBuilder) => Number(((await q.count({ n: '*' }).first()) as { n: string | number }).n);

/** Before inserting a product with `hotVariants` hot variants: products (not archived) and hot variants within the plan. */
export async function checkProductLimits(trx: Knex.Transaction, settings: PlanSettings, storeId: string, hotVariants: number): Promise<void> {
  const limiting = await limitingPlan(trx, settings, storeId);
  if (!limiting) return;
  const { plan } = limiting;
  if (plan.limits.products !== null) refuseOver(plan, 'products', await count(trx('products').where({ store_id: storeId }).whereNot({ status: 'archived' })), 1);
  if (hotVariants > 0 && plan.limits.hot_variants !== null) refuseOver(plan, 'hot_variants', await count(trx('variants').where({ store_id: storeId, hot: true })), hotVariants);
}

/** Before inserting a drop: not past due or unpaid, and within the plan's drops this (UTC) month. */
export async function checkDropLimits(trx: Knex.Transaction, settings: PlanSettings, storeId: string): Promise<void> {
  const limiting = await limitingPlan(trx, settings, storeId);
  if (!limiting) return;
  const { plan, status } = limiting;
  if (status !== 'active') {
    throw refusals.conflict(SUBSCRIPTION_PAST_DUE, `The store's plan is ${status.replace('_', ' ')}: new drops are refused until it is paid.`, { subscription_status: status });
  }
  if (plan.limits.drops_per_month === null) return;
  const used = await count(trx('drops').where({ store_id: storeId }).whereRaw(`created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`));
  refuseOver(plan, 'drops_per_month', used, 1);
}
