import type { Config } from '../config';
import { formatMoney } from '../domain/campaigns';
import type { Db } from '../infra/db';
import { notify } from '../notifications/notify';
import type { SubscriptionStatus } from './contract';
import { findPlan } from './plans';
import { openPeriod } from './subscriptionCharges';
import { loadPeriod, loadSubscription, periodEndAfter, type SubscriptionRow } from './subscriptionRows';

/**
 * The steps of a subscription's life that the workflow `subscription:<store>` takes at its boundaries: a period's
 * end (the next one opened and invoiced, or the subscription canceled), dunning (past due, then unpaid, the owner
 * told each time) and cancel at period end. Each is one transaction, guarded by the state it expects, so a
 * repeated step changes nothing.
 */

export type RenewResult = { kind: 'renewed'; periodStart: string } | { kind: 'canceled' } | { kind: 'unpaid' };

export function createSubscriptionLifecycle(deps: { db: Db; config: Pick<Config, 'TAX_RATES_BPS' | 'MERCHANT_PLANS'> }) {
  const { db, config } = deps;

  return {
    /**
     * The end of the period that started at `periodStart`: canceled if so asked (no invoice), else the next period
     * opened on the anchor and invoiced, the carried credit taken off its line. Idempotent: a period already moved
     * past answers with where the subscription is now.
     */
    async renew(storeId: string, periodStart: Date): Promise<RenewResult> {
      return db.transaction(async (trx) => {
        const sub = await loadSubscription(trx, storeId, { forUpdate: true });
        if (!sub || sub.status === 'canceled' || sub.status === 'incomplete') return { kind: 'canceled' };
        if (sub.current_period_start.getTime() !== periodStart.getTime()) return { kind: 'renewed', periodStart: sub.current_period_start.toISOString() };
        if (sub.status === 'unpaid') return { kind: 'unpaid' };
        if (sub.cancel_at_period_end) {
          await trx('store_subscriptions').where({ store_id: storeId }).update({ status: 'canceled', canceled_at: sub.current_period_end, updated_at: trx.fn.now() });
          await notify(trx, {
            userId: sub.customer_ref!,
            type: 'subscription_canceled',
            title: 'Your plan has ended',
            body: `The ${sub.plan_id} plan of your store ended on ${sub.current_period_end.toISOString()}, as you asked. No further invoices.`,
            data: { store_id: storeId, plan_id: sub.plan_id },
            dedupeKey: `subscription_canceled:${storeId}:${sub.current_period_end.toISOString()}`,
          });
          return { kind: 'canceled' };
        }
        const plan = findPlan(config.MERCHANT_PLANS, sub.plan_id);
        if (!plan) throw new Error(`store ${storeId} is on plan "${sub.plan_id}", which MERCHANT_PLANS no longer lists`);
        const start = sub.current_period_end;
        const end = periodEndAfter(sub, plan, start);
        const credit = Math.min(sub.credit_balance_cents, plan.price_cents);
        await openPeriod(trx, config, sub, plan, { start, end }, credit);
        await trx('store_subscriptions')
          .where({ store_id: storeId })
          .update({
            current_period_start: start,
            current_period_end: end,
            paid_cents: plan.price_cents,
            paid_from: start,
            credit_balance_cents: sub.credit_balance_cents - credit,
            updated_at: trx.fn.now(),
          });
        return { kind: 'renewed', periodStart: start.toISOString() };
      });
    },

    /**
     * A declined attempt at the current period: past due (retries to come) or unpaid (none), and the owner told.
     * Only from active or past due, and only for the period still current.
     */
    async enterDunning(input: { storeId: string; periodStart: Date; attempt: number; status: 'past_due' | 'unpaid'; declineCode: string | null; nextRetryAt: Date | null }): Promise<SubscriptionStatus | undefined> {
      return db.transaction(async (trx) => {
        const sub = await loadSubscription(trx, input.storeId, { forUpdate: true });
        if (!sub || sub.current_period_start.getTime() !== input.periodStart.getTime()) return sub?.status;
        if (sub.status !== 'active' && sub.status !== 'past_due') return sub.status;
        await trx('store_subscriptions').where({ store_id: input.storeId }).update({ status: input.status, updated_at: trx.fn.now() });
        if (input.status === 'unpaid') {
          await trx('subscription_periods').where({ store_id: input.storeId, period_start: input.periodStart, status: 'open' }).update({ status: 'unpaid', updated_at: trx.fn.now() });
        }
        const period = (await loadPeriod(trx, input.storeId, input.periodStart))!;
        const amount = formatMoney(period.amount_due_cents, period.currency);
        const reason = input.declineCode ? ` (${input.declineCode})` : '';
        await notify(trx, {
          userId: sub.customer_ref!,
          type: input.status === 'unpaid' ? 'subscription_unpaid' : 'subscription_past_due',
          title: input.status === 'unpaid' ? 'Your plan is unpaid' : 'Your plan payment failed',
          body:
            input.status === 'unpaid'
              ? `We could not charge ${amount} for your store's ${sub.plan_id} plan${reason} and will not retry. New drops are paused; cancel and subscribe again with another card.`
              : `We could not charge ${amount} for your store's ${sub.plan_id} plan${reason}. We will retry on ${input.nextRetryAt?.toISOString()}; new drops are paused until it is paid.`,
          data: { store_id: input.storeId, plan_id: sub.plan_id, attempt: input.attempt, decline_code: input.declineCode, next_retry_at: input.nextRetryAt?.toISOString() ?? null, invoice_id: period.invoice_id },
          dedupeKey: `subscription_payment_failed:${input.storeId}:${input.periodStart.toISOString()}:${input.attempt}`,
        });
        return input.status;
      });
    },

    /** Cancel at the current period's end (no further invoice); an unpaid subscription, whose workflow is over, ends now. */
    async cancelAtPeriodEnd(storeId: string): Promise<SubscriptionRow | undefined> {
      return db.transaction(async (trx) => {
        const sub = await loadSubscription(trx, storeId, { forUpdate: true });
        if (!sub || sub.status === 'canceled' || sub.status === 'incomplete') return sub;
        const changes = sub.status === 'unpaid' ? { status: 'canceled', canceled_at: trx.fn.now(), cancel_at_period_end: true } : { cancel_at_period_end: true };
        await trx('store_subscriptions').where({ store_id: storeId }).update({ ...changes, updated_at: trx.fn.now() });
        return loadSubscription(trx, storeId);
      });
    },
  };
}
