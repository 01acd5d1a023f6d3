import { ApplicationFailure } from '@temporalio/common';
import {
  SUBSCRIPTION_CHANGE_DECLINED_FAILURE,
  SUBSCRIPTION_CHANGE_REFUSED_FAILURE,
  type SubscriptionStatus,
} from '../../billing/contract';
import { createSubscriptionCharges, type ChargeResult } from '../../billing/subscriptionCharges';
import { createSubscriptionLifecycle, type RenewResult } from '../../billing/subscriptionLifecycle';
import { createPlanChanges, type ChangeRow } from '../../billing/subscriptionPlanChanges';
import { loadPeriod, loadSubscription } from '../../billing/subscriptionRows';
import { DomainError } from '../../domain/errors';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The steps of workflow `subscription:<store>` (src/workflows/billing/subscription.ts), thin over
 * src/billing/subscription*.ts. Instants travel as ISO strings. A refused or declined plan change is a
 * non-retryable failure the Update answers with; a charge the provider has not decided yet is retried.
 */

/** What a run of the workflow starts from. */
export interface SubscriptionRun {
  found: boolean;
  status: SubscriptionStatus;
  planId: string;
  periodStart: string;
  periodEnd: string;
  cancelAtPeriodEnd: boolean;
  /** The current period's state (null: no period row, e.g. canceled before one). */
  periodStatus: 'open' | 'paid' | 'unpaid' | 'void' | null;
  invoiceId: string | null;
  /** Declined attempts at the current period, the last one's code, and plan changes made in it so far. */
  attemptsMade: number;
  lastDeclineCode: string | null;
  changesMade: number;
  /** The configured plans the validator may accept (id, interval, currency). */
  plans: Array<{ id: string; interval: string; currency: string }>;
}

export type ChangeSummary = Pick<ChangeRow, 'id' | 'to_plan_id' | 'net_charge_cents' | 'credit_carried_cents' | 'status'>;

const summary = (c: ChangeRow): ChangeSummary => ({ id: c.id, to_plan_id: c.to_plan_id, net_charge_cents: c.net_charge_cents, credit_carried_cents: c.credit_carried_cents, status: c.status });

/** A plan change's refusal (domain error) as the Update's answer. */
async function asChangeFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError) {
      const declined = err.kind === 'payment';
      throw ApplicationFailure.create({
        type: declined ? SUBSCRIPTION_CHANGE_DECLINED_FAILURE : SUBSCRIPTION_CHANGE_REFUSED_FAILURE,
        message: err.message,
        nonRetryable: true,
        details: [{ code: err.code, message: err.message, declineCode: (err.extra as { decline_code?: string | null }).decline_code ?? null }],
      });
    }
    throw err;
  }
}

/** Main task queue: database only. */
export function createSubscriptionActivities(deps: ActivityDeps) {
  const charges = createSubscriptionCharges(deps);
  const lifecycle = createSubscriptionLifecycle(deps);
  const changes = createPlanChanges({ ...deps, charges });
  return {
    async loadSubscriptionRun(input: { storeId: string }): Promise<SubscriptionRun> {
      const sub = await loadSubscription(deps.db, input.storeId);
      const plans = deps.config.MERCHANT_PLANS.map((p) => ({ id: p.id, interval: p.interval, currency: p.currency }));
      if (!sub) {
        const none = new Date(0).toISOString();
        return { found: false, status: 'canceled', planId: '', periodStart: none, periodEnd: none, cancelAtPeriodEnd: false, periodStatus: null, invoiceId: null, attemptsMade: 0, lastDeclineCode: null, changesMade: 0, plans };
      }
      const period = await loadPeriod(deps.db, input.storeId, sub.current_period_start);
      const attempts = await charges.failedAttempts(input.storeId, sub.current_period_start);
      const changed = (await deps.db('subscription_changes').where({ store_id: input.storeId, period_start: sub.current_period_start }).count({ n: '*' }).first()) as { n: string };
      return {
        found: true,
        status: sub.status,
        planId: sub.plan_id,
        periodStart: sub.current_period_start.toISOString(),
        periodEnd: sub.current_period_end.toISOString(),
        cancelAtPeriodEnd: sub.cancel_at_period_end,
        periodStatus: period?.status ?? null,
        invoiceId: period?.invoice_id ?? null,
        attemptsMade: attempts.count,
        lastDeclineCode: attempts.last?.declineCode ?? null,
        changesMade: Number(changed.n),
        plans,
      };
    },

    async renewSubscriptionPeriod(input: { storeId: string; periodStart: string }): Promise<RenewResult> {
      return lifecycle.renew(input.storeId, new Date(input.periodStart));
    },

    async enterSubscriptionDunning(input: { storeId: string; periodStart: string; attempt: number; status: 'past_due' | 'unpaid'; declineCode: string | null; nextRetryAt: string | null }) {
      return lifecycle.enterDunning({ ...input, periodStart: new Date(input.periodStart), nextRetryAt: input.nextRetryAt ? new Date(input.nextRetryAt) : null });
    },

    async setSubscriptionCancelAtPeriodEnd(input: { storeId: string }): Promise<boolean> {
      return (await lifecycle.cancelAtPeriodEnd(input.storeId))?.cancel_at_period_end ?? false;
    },

    /** Change number n of the period, prorated and (if owed) invoiced. */
    async prepareSubscriptionChange(input: { storeId: string; planId: string; at: string; n: number }): Promise<ChangeSummary> {
      return summary(await asChangeFailure(() => changes.prepare({ ...input, at: new Date(input.at) })));
    },
  };
}

/** Payments task queue: the steps that charge the card. */
export function createSubscriptionPaymentActivities(deps: ActivityDeps) {
  const charges = createSubscriptionCharges(deps);
  const changes = createPlanChanges({ ...deps, charges });
  return {
    /** Attempt `attempt` at the period's invoice (key `subscription:<store>:<period start>:<attempt>`). */
    async chargeSubscriptionPeriod(input: { storeId: string; periodStart: string; attempt: number }): Promise<ChargeResult> {
      return charges.chargePeriod({ storeId: input.storeId, periodStart: new Date(input.periodStart), attempt: input.attempt });
    },

    /** Charges a prepared change (if anything is owed) and applies it; a decline refuses the change. */
    async applySubscriptionChange(input: { changeId: string }): Promise<ChangeSummary> {
      return summary(await asChangeFailure(() => changes.payAndApply(input)));
    },
  };
}
