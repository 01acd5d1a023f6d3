import type { Config } from '../config';
import { formatMoney } from '../domain/campaigns';
import { prorate } from '../domain/proration';
import { refusals } from '../domain/errors';
import {
  SAME_PLAN,
  SUBSCRIPTION_NOT_ACTIVE,
  UNKNOWN_PLAN,
  subscriptionChangeSourceId,
} from './contract';
import { issueInvoice, voidInvoice } from './invoices';
import { findPlan, type Plan } from './plans';
import type { SubscriptionCharges } from './subscriptionCharges';
import { loadSubscription, type SubscriptionRow } from './subscriptionRows';
import type { Db } from '../infra/db';

/**
 * Plan changes within a period, prorated to the second (src/domain/proration.ts, before tax): a credit for the
 * unused part of what was paid for the current plan (rounded down) and a charge for the new plan's remaining time
 * (rounded up). Invoice lines cannot be negative, so the two are netted (the rule):
 * - charge > credit: one platform invoice for the change now, its one line the difference (charge less credit,
 *   both named in it), tax on top, charged at once; a decline refuses the change (invoice voided, plan unchanged);
 * - credit ≥ charge: nothing is invoiced or charged now; the difference is added to the store's credit balance,
 *   which comes off the next period invoices' line (before tax), never paid out.
 * Either way the new plan's part counts as paid its full prorated charge, so a later change credits at most that:
 * over any sequence of changes, credits never exceed what was paid (the first payment plus the charges); each
 * change row CHECKs its credit against what was paid for the part it gives back.
 */

export interface ChangeRow {
  id: string;
  store_id: string;
  period_start: Date;
  change_key: string;
  from_plan_id: string;
  to_plan_id: string;
  at: Date;
  paid_before_cents: number;
  credit_cents: number;
  charge_cents: number;
  net_charge_cents: number;
  credit_carried_cents: number;
  invoice_id: string | null;
  status: 'pending' | 'applied' | 'declined';
}

const refused = (code: string, message: string) => (code === UNKNOWN_PLAN ? refusals.unprocessable(code, message) : refusals.conflict(code, message));
const declined = (declineCode: string | null) =>
  refusals.payment('payment_declined', 'Payment declined', 'The card was declined for the plan change; the plan is unchanged.', { decline_code: declineCode });

/** Why `to` cannot replace the subscription's plan now, or undefined (the workflow's validator asks the same). */
export function changeRefusal(sub: Pick<SubscriptionRow, 'status' | 'plan_id' | 'cancel_at_period_end'>, plans: readonly Plan[], toPlanId: string): { code: string; message: string } | undefined {
  const to = findPlan(plans, toPlanId);
  const from = findPlan(plans, sub.plan_id);
  if (!to) return { code: UNKNOWN_PLAN, message: `There is no plan "${toPlanId}".` };
  if (sub.status !== 'active') return { code: SUBSCRIPTION_NOT_ACTIVE, message: `The subscription is ${sub.status}; only an active plan can be changed.` };
  if (to.id === sub.plan_id) return { code: SAME_PLAN, message: `The store is on the ${to.name} plan already.` };
  if (from && (from.interval !== to.interval || from.currency !== to.currency)) {
    return { code: UNKNOWN_PLAN, message: `The ${to.name} plan is billed per ${to.interval} in ${to.currency}; changes keep the interval and currency (${from.interval}, ${from.currency}).` };
  }
  return undefined;
}

const rowOf = (r: ChangeRow): ChangeRow => ({
  ...r,
  paid_before_cents: Number(r.paid_before_cents),
  credit_cents: Number(r.credit_cents),
  charge_cents: Number(r.charge_cents),
  net_charge_cents: Number(r.net_charge_cents),
  credit_carried_cents: Number(r.credit_carried_cents),
});

export function createPlanChanges(deps: { db: Db; config: Pick<Config, 'TAX_RATES_BPS' | 'MERCHANT_PLANS'>; charges: SubscriptionCharges }) {
  const { db, config } = deps;

  const loadChange = async (id: string) => {
    const r = (await db('subscription_changes').where({ id }).first()) as ChangeRow | undefined;
    return r && rowOf(r);
  };

  return {
    /**
     * Change number `n` of the current period to `planId` at `at`: proration recorded and, when something is owed,
     * invoiced. Idempotent per (store, period, n): a repeated step returns the change recorded the first time.
     */
    async prepare(input: { storeId: string; planId: string; at: Date; n: number }): Promise<ChangeRow> {
      return db.transaction(async (trx) => {
        const sub = await loadSubscription(trx, input.storeId, { forUpdate: true });
        if (!sub) throw refused(SUBSCRIPTION_NOT_ACTIVE, 'The store has no subscription.');
        const key = subscriptionChangeSourceId(input.storeId, sub.current_period_start, input.n);
        const existing = (await trx('subscription_changes').where({ change_key: key }).first()) as ChangeRow | undefined;
        if (existing) return rowOf(existing);
        const why = changeRefusal(sub, config.MERCHANT_PLANS, input.planId);
        if (why) throw refused(why.code, why.message);
        const from = findPlan(config.MERCHANT_PLANS, sub.plan_id)!;
        const to = findPlan(config.MERCHANT_PLANS, input.planId)!;
        const paidFrom = sub.paid_from ?? sub.current_period_start;
        // The change takes effect within the part paid for (a clock a little behind the last change is held at it).
        const at = new Date(Math.min(Math.max(input.at.getTime(), paidFrom.getTime()), sub.current_period_end.getTime()));
        const p = prorate({
          periodStart: sub.current_period_start,
          periodEnd: sub.current_period_end,
          paidCents: sub.paid_cents,
          paidFrom,
          newPriceCents: to.price_cents,
          at,
        });
        const net = Math.max(0, p.netCents);
        const carried = Math.max(0, -p.netCents);
        const invoice =
          net > 0
            ? await issueInvoice(
                trx,
                {
                  issuer: { kind: 'platform' },
                  customerUserId: sub.customer_ref!,
                  currency: to.currency,
                  source: { kind: 'subscription', id: key },
                  lines: [
                    {
                      description: `Change to ${to.name} from ${at.toISOString()} to ${sub.current_period_end.toISOString()}: ${formatMoney(p.chargeCents, to.currency)} less ${formatMoney(p.creditCents, to.currency)} unused ${from.name}`,
                      quantity: 1,
                      unitAmountCents: net,
                    },
                  ],
                },
                config,
              )
            : undefined;
        const [row] = (await trx('subscription_changes')
          .insert({
            store_id: input.storeId,
            period_start: sub.current_period_start,
            change_key: key,
            from_plan_id: from.id,
            to_plan_id: to.id,
            at,
            paid_before_cents: sub.paid_cents,
            credit_cents: p.creditCents,
            charge_cents: p.chargeCents,
            net_charge_cents: net,
            credit_carried_cents: carried,
            invoice_id: invoice?.id ?? null,
          })
          .returning('*')) as ChangeRow[];
        return rowOf(row!);
      });
    },

    /**
     * Charges a prepared change's invoice (if any) and applies it: the plan switched, the new part paid from the
     * change on, the carried credit added. A decline refuses the change (402 payment_declined).
     */
    async payAndApply(input: { changeId: string }): Promise<ChangeRow> {
      const change = await loadChange(input.changeId);
      if (!change) throw new Error(`no plan change ${input.changeId}`);
      if (change.status === 'applied') return change;
      if (change.status === 'declined') throw declined(null);
      const apply = async (trx: import('knex').Knex.Transaction) => {
        const moved = await trx('store_subscriptions')
          .where({ store_id: change.store_id, plan_id: change.from_plan_id, current_period_start: change.period_start })
          .update({
            plan_id: change.to_plan_id,
            paid_cents: change.charge_cents,
            paid_from: change.at,
            credit_balance_cents: trx.raw('credit_balance_cents + ?', [change.credit_carried_cents]),
            updated_at: trx.fn.now(),
          });
        if (moved !== 1) throw new Error(`plan change ${change.change_key} no longer matches the subscription`);
        await trx('subscription_changes').where({ id: change.id, status: 'pending' }).update({ status: 'applied', updated_at: trx.fn.now() });
      };
      if (change.net_charge_cents === 0) {
        await db.transaction(apply);
        return (await loadChange(change.id))!;
      }
      const sub = (await loadSubscription(db, change.store_id))!;
      const invoice = (await db('invoices').where({ id: change.invoice_id }).first('total_cents', 'currency')) as { total_cents: string; currency: string };
      const result = await deps.charges.chargeInvoice(
        sub,
        {
          paymentKey: `subscription:${change.change_key}`,
          periodStart: change.period_start,
          kind: 'change',
          changeId: change.id,
          attempt: 1,
          invoiceId: change.invoice_id!,
          amountCents: Number(invoice.total_cents),
          currency: invoice.currency.trim(),
          description: `Plan change to ${change.to_plan_id} for store ${change.store_id}`,
        },
        apply,
      );
      if (result.outcome === 'declined') {
        await db.transaction(async (trx) => {
          await trx('subscription_changes').where({ id: change.id, status: 'pending' }).update({ status: 'declined', updated_at: trx.fn.now() });
          await voidInvoice(trx, change.invoice_id!);
        });
        throw declined(result.declineCode);
      }
      return (await loadChange(change.id))!;
    },
  };
}
