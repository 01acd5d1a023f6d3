import type { Knex } from 'knex';
import { nextPeriodEnd } from '../domain/billingPeriods';
import type { SubscriptionState, SubscriptionStatus } from './contract';
import type { Plan } from './plans';

/**
 * A store's subscription as stored (store_subscriptions, migrations 20261206_01 and _05), its periods, and the one
 * shape the API answers with. Pure helpers and SQL reads; the changes live in subscriptionLifecycle.ts,
 * subscriptionCharges.ts and subscriptionPlanChanges.ts.
 */

export interface SubscriptionRow {
  store_id: string;
  plan_id: string;
  status: SubscriptionStatus;
  /** The business key of the payments setup row that saved the card periods are charged to. */
  payment_method: string | null;
  /** The store owner (the billed merchant), also the payment provider's customer reference. */
  customer_ref: string | null;
  anchor_at: Date;
  time_zone: string;
  current_period_start: Date;
  current_period_end: Date;
  cancel_at_period_end: boolean;
  canceled_at: Date | null;
  /** Paid (before tax) for the current plan's part of the current period, which runs from paid_from. */
  paid_cents: number;
  paid_from: Date | null;
  /** Credit (before tax) owed to the merchant, taken off the next invoices. */
  credit_balance_cents: number;
  fixed_period_seconds: number | null;
  currency: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface PeriodRow {
  store_id: string;
  period_start: Date;
  period_end: Date;
  plan_id: string;
  currency: string;
  list_price_cents: number;
  credit_applied_cents: number;
  invoice_id: string | null;
  amount_due_cents: number;
  status: 'open' | 'paid' | 'unpaid' | 'void';
  paid_at: Date | null;
}

type Conn = Knex | Knex.Transaction;

/** bigint columns arrive as strings from pg: numbers here (all far below 2^53). */
function numbers<T extends object>(row: T, keys: readonly (keyof T)[]): T {
  const out = { ...row };
  for (const k of keys) if (out[k] !== null && out[k] !== undefined) (out as Record<keyof T, unknown>)[k] = Number(out[k]);
  return out;
}

export const subscriptionFromRow = (row: SubscriptionRow): SubscriptionRow => ({
  ...numbers(row, ['paid_cents', 'credit_balance_cents']),
  currency: row.currency?.trim() ?? null,
});

export async function loadSubscription(db: Conn, storeId: string, opts: { forUpdate?: boolean } = {}): Promise<SubscriptionRow | undefined> {
  const q = db<SubscriptionRow>('store_subscriptions').where({ store_id: storeId });
  const row = (await (opts.forUpdate ? q.forUpdate() : q).first()) as SubscriptionRow | undefined;
  return row && subscriptionFromRow(row);
}

export async function loadPeriod(db: Conn, storeId: string, periodStart: Date, opts: { forUpdate?: boolean } = {}): Promise<PeriodRow | undefined> {
  const q = db<PeriodRow>('subscription_periods').where({ store_id: storeId, period_start: periodStart });
  const row = (await (opts.forUpdate ? q.forUpdate() : q).first()) as PeriodRow | undefined;
  return row && { ...numbers(row, ['list_price_cents', 'credit_applied_cents', 'amount_due_cents']), currency: row.currency.trim() };
}

/**
 * The end of the period starting at `start`: a fixed length when the subscription has one (SUBSCRIPTION_PERIOD
 * when it was made), else the next boundary on its anchor in its time zone (Jan 31 → Feb 28 → Mar 31).
 */
export function periodEndAfter(sub: Pick<SubscriptionRow, 'anchor_at' | 'time_zone' | 'fixed_period_seconds'>, plan: Pick<Plan, 'interval'>, start: Date): Date {
  if (sub.fixed_period_seconds) return new Date(start.getTime() + sub.fixed_period_seconds * 1000);
  return nextPeriodEnd(sub.anchor_at, start, plan.interval, sub.time_zone);
}

/** The API's subscription (API.md "Billing"). */
export function subscriptionJson(row: SubscriptionRow) {
  return {
    store_id: row.store_id,
    plan_id: row.plan_id,
    status: row.status,
    current_period_start: row.current_period_start.toISOString(),
    current_period_end: row.current_period_end.toISOString(),
    cancel_at_period_end: row.cancel_at_period_end,
    canceled_at: row.canceled_at?.toISOString() ?? null,
    credit_balance_cents: row.credit_balance_cents,
    currency: row.currency,
  };
}
export type SubscriptionJson = ReturnType<typeof subscriptionJson>;

/** The workflow's view, from the row (attempt figures are the workflow's own). */
export function subscriptionState(row: SubscriptionRow, dunning: Pick<SubscriptionState, 'attempts' | 'nextRetryAt' | 'lastDeclineCode'>): SubscriptionState {
  return {
    status: row.status,
    planId: row.plan_id,
    periodStart: row.current_period_start.toISOString(),
    periodEnd: row.current_period_end.toISOString(),
    cancelAtPeriodEnd: row.cancel_at_period_end,
    ...dunning,
  };
}
