import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { managedStore } from '../commerce/stores';
import { DomainError, refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { ServiceDeps } from '../infra/serviceDeps';
import { paymentOutcome } from '../payments/outcomes';
import { createPaymentService } from '../payments/paymentService';
import { InvoiceId, Status, StoreId } from '../temporal/searchAttributes';
import {
  cancelAtPeriodEndUpdate,
  changePlanUpdate,
  SUBSCRIPTION_CHANGE_DECLINED_FAILURE,
  SUBSCRIPTION_CHANGE_REFUSED_FAILURE,
  SUBSCRIPTION_EXISTS,
  SUBSCRIPTION_WORKFLOW,
  subscriptionCardKey,
  subscriptionWorkflowId,
  UNKNOWN_PLAN,
  type SubscriptionWorkflowInput,
} from './contract';
import { findPlan } from './plans';
import { createSubscriptionCharges, openPeriod } from './subscriptionCharges';
import { createSubscriptionLifecycle } from './subscriptionLifecycle';
import { loadSubscription, periodEndAfter, subscriptionJson, type SubscriptionJson, type SubscriptionRow } from './subscriptionRows';

/**
 * Merchant plan subscriptions as the store owner asks for them (API.md "Billing"). Subscribing saves the card
 * (SetupIntent semantics, key per store and card), opens and invoices the first period and charges it at once; only
 * a paid first period makes the subscription active and starts its workflow `subscription:<store>`, which owns
 * every later period. Plan changes and cancel at period end are Updates of that workflow, so they never race its
 * period boundary. Another owner's store is a 404, like an unknown one.
 */

const LIVE = ['active', 'past_due', 'unpaid'];

/** One subscribe per store at a time (the provider calls happen outside any row lock). */
const subscribeLock = (storeId: string) => `subscribe:${storeId}`;

export function createSubscriptions(deps: ServiceDeps) {
  const { db, config, logger } = deps;
  const payments = createPaymentService(deps);
  const charges = createSubscriptionCharges(deps);
  const lifecycle = createSubscriptionLifecycle(deps);

  async function startWorkflow(sub: SubscriptionRow, invoiceId: string | null): Promise<void> {
    const input: SubscriptionWorkflowInput = { storeId: sub.store_id, retryScheduleMs: config.SUBSCRIPTION_RETRY_SCHEDULE, paymentStepTimeoutMs: config.PAYMENT_STEP_TIMEOUT };
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.start(SUBSCRIPTION_WORKFLOW, {
          workflowId: subscriptionWorkflowId(sub.store_id),
          taskQueue: config.TASK_QUEUE,
          args: [input],
          // A running workflow is the subscription's: a repeated start joins it; a canceled one's id is reused.
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          typedSearchAttributes: [
            { key: StoreId, value: sub.store_id },
            { key: Status, value: sub.status },
            ...(invoiceId ? [{ key: InvoiceId, value: invoiceId }] : []),
          ],
          staticSummary: `Merchant plan of store ${sub.store_id}: ${sub.plan_id}, billed each period from ${sub.anchor_at.toISOString()}`,
        }),
      );
    } catch (err) {
      logger.error({ err, storeId: sub.store_id }, 'could not start the subscription workflow');
      throw refusals.unavailable('workflow_unavailable', 'The subscription is paid but its workflow could not be reached; retry shortly (nothing is charged twice).', 5);
    }
  }

  async function ownedSubscription(principal: Principal | undefined, storeId: string): Promise<SubscriptionRow> {
    const store = await managedStore(db, storeId, principal);
    const sub = await loadSubscription(db, store.id);
    if (!sub || sub.status === 'incomplete') throw refusals.notFound('subscription');
    return sub;
  }

  /** An Update of the workflow, its refusals as the API's. */
  async function update<T>(storeId: string, run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, run);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw refusals.conflict('subscription_not_active', 'The subscription is no longer running.');
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        const details = (err.cause.details?.[0] ?? {}) as { code?: string; message?: string; declineCode?: string | null };
        if (err.cause.type === SUBSCRIPTION_CHANGE_DECLINED_FAILURE) {
          throw refusals.payment('payment_declined', 'Payment declined', 'The card was declined for the plan change; the plan is unchanged.', { decline_code: details.declineCode ?? null });
        }
        if (err.cause.type === SUBSCRIPTION_CHANGE_REFUSED_FAILURE && details.code) {
          const message = details.message ?? err.cause.message;
          throw details.code === UNKNOWN_PLAN ? refusals.unprocessable(details.code, message) : refusals.conflict(details.code, message);
        }
      }
      logger.warn({ err, cause: (err as { cause?: unknown }).cause, storeId }, 'subscription update failed');
      throw err instanceof DomainError ? err : refusals.dependencyDown('temporal');
    }
  }

  /**
   * A first try that never finished (declined, or cut off mid-charge): its attempt is asked again under its key. Paid
   * after all: the subscription is activated; otherwise that period is given up (invoice voided).
   */
  async function resumeIncomplete(sub: SubscriptionRow): Promise<boolean> {
    const { count } = await charges.failedAttempts(sub.store_id, sub.current_period_start);
    const tried = await db('subscription_charges').where({ store_id: sub.store_id, period_start: sub.current_period_start, kind: 'period' }).first('attempt');
    if (tried && count === 0) {
      const again = await charges.chargePeriod({ storeId: sub.store_id, periodStart: sub.current_period_start, attempt: 1 });
      if (again.outcome === 'paid') return true;
    }
    await charges.voidPeriod(sub.store_id, sub.current_period_start);
    return false;
  }

  return {
    async get(principal: Principal | undefined, storeId: string): Promise<SubscriptionJson> {
      return subscriptionJson(await ownedSubscription(principal, storeId));
    },

    async subscribe(principal: Principal | undefined, storeId: string, body: { plan_id: string; payment_method: string }): Promise<SubscriptionJson> {
      const store = await managedStore(db, storeId, principal);
      const plan = findPlan(config.MERCHANT_PLANS, body.plan_id);
      if (!plan) throw refusals.unprocessable(UNKNOWN_PLAN, `There is no plan "${body.plan_id}" (GET /v1/plans lists them).`);
      return db.transaction(async (lock) => {
        await lock.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [subscribeLock(store.id)]);
        const existing = await loadSubscription(db, store.id);
        if (existing && LIVE.includes(existing.status)) {
          await startWorkflow(existing, null); // repairs a start lost after a paid first period
          throw refusals.conflict(SUBSCRIPTION_EXISTS, `The store is on the ${existing.plan_id} plan already (${existing.status}); change it with PATCH.`, {
            subscription: subscriptionJson(existing),
          });
        }
        if (existing?.status === 'incomplete' && (await resumeIncomplete(existing))) {
          const active = (await loadSubscription(db, store.id))!;
          await startWorkflow(active, null);
          return subscriptionJson(active);
        }

        const cardKey = subscriptionCardKey(store.id, body.payment_method);
        const card = await payments.savePaymentMethod({ businessKey: cardKey, paymentMethod: body.payment_method, customerRef: store.owner_id });
        if (paymentOutcome(card) !== 'saved') {
          throw refusals.payment('payment_declined', 'Payment declined', card.failureMessage ?? 'The card could not be saved.', { decline_code: card.declineCode ?? card.failureCode });
        }

        // Periods start on whole seconds (proration counts seconds; keys and invoice sources carry the instant).
        // A period given up on this very second keeps its start (and invoice source): the new one starts a second later.
        const last = (await db('subscription_periods').where({ store_id: store.id }).max({ at: 'period_start' }).first()) as { at: Date | null };
        const start = new Date(Math.max(Math.floor(Date.now() / 1000) * 1000, last.at ? last.at.getTime() + 1000 : 0));
        const periodLength = config.SUBSCRIPTION_PERIOD ? Math.max(1, Math.round(config.SUBSCRIPTION_PERIOD / 1000)) : null;
        const end = periodEndAfter({ anchor_at: start, time_zone: 'UTC', fixed_period_seconds: periodLength }, plan, start);
        const row = {
          store_id: store.id,
          plan_id: plan.id,
          status: 'incomplete',
          payment_method: cardKey,
          customer_ref: store.owner_id,
          anchor_at: start,
          time_zone: 'UTC',
          current_period_start: start,
          current_period_end: end,
          cancel_at_period_end: false,
          canceled_at: null,
          paid_cents: plan.price_cents,
          paid_from: start,
          credit_balance_cents: 0,
          fixed_period_seconds: periodLength,
          currency: plan.currency,
          updated_at: new Date(),
        };
        const period = await db.transaction(async (trx) => {
          await trx('store_subscriptions').insert(row).onConflict('store_id').merge();
          return openPeriod(trx, config, row, plan, { start, end }, 0);
        });
        const paid = await charges.chargePeriod({ storeId: store.id, periodStart: start, attempt: 1 });
        if (paid.outcome === 'declined') {
          await charges.voidPeriod(store.id, start);
          throw refusals.payment('payment_declined', 'Payment declined', `${paid.message ?? 'The card was declined.'} The store has no plan; try another card.`, {
            decline_code: paid.declineCode,
          });
        }
        const active = (await loadSubscription(db, store.id))!;
        await startWorkflow(active, period.invoice_id);
        return subscriptionJson(active);
      });
    },

    /** A plan change, prorated (src/billing/subscriptionPlanChanges.ts), through the workflow's Update. */
    async changePlan(principal: Principal | undefined, storeId: string, body: { plan_id: string }): Promise<SubscriptionJson> {
      const sub = await ownedSubscription(principal, storeId);
      await update(sub.store_id, (client) => client.workflow.getHandle(subscriptionWorkflowId(sub.store_id)).executeUpdate(changePlanUpdate, { args: [{ planId: body.plan_id }] }));
      return subscriptionJson((await loadSubscription(db, sub.store_id))!);
    },

    /** Cancel at the period's end; an unpaid subscription (its workflow done) is canceled now. */
    async cancel(principal: Principal | undefined, storeId: string): Promise<SubscriptionJson> {
      const sub = await ownedSubscription(principal, storeId);
      if (sub.status === 'canceled') return subscriptionJson(sub);
      if (sub.status === 'unpaid') return subscriptionJson((await lifecycle.cancelAtPeriodEnd(sub.store_id))!);
      await update(sub.store_id, (client) => client.workflow.getHandle(subscriptionWorkflowId(sub.store_id)).executeUpdate(cancelAtPeriodEndUpdate));
      return subscriptionJson((await loadSubscription(db, sub.store_id))!);
    },
  };
}
