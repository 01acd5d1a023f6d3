import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import type { SubscriptionRun } from '../../activities/billing/subscription';
import {
  cancelAtPeriodEndUpdate,
  changePlanUpdate,
  SAME_PLAN,
  SUBSCRIPTION_CHANGE_REFUSED_FAILURE,
  SUBSCRIPTION_NOT_ACTIVE,
  subscriptionStateQuery,
  UNKNOWN_PLAN,
  type SubscriptionState,
  type SubscriptionStatus,
  type SubscriptionWorkflowInput,
} from '../../billing/contract';
import { afterDecline } from '../../domain/dunning';
import { InvoiceId, Status, StoreId } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';

/**
 * `subscription:<store>`: one run per billing period. A run charges its period's invoice (opened by the previous
 * run at the boundary, or by the subscribe request for the first), dunning on declines (SUBSCRIPTION_RETRY_SCHEDULE,
 * none after a hard decline: past_due, then unpaid), sleeps on a durable timer until the period's end, then opens
 * and invoices the next period (or cancels, if asked) and continues as new. Charges are keyed per period and
 * attempt, and attempts are counted from the database at each run's start, so neither a replay nor a new run bills a
 * period twice. Plan changes and cancel at period end are Updates, one at a time, never during a charge or the
 * boundary.
 */

const { loadSubscriptionRun, renewSubscriptionPeriod, enterSubscriptionDunning, setSubscriptionCancelAtPeriodEnd, prepareSubscriptionChange } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

const refusal = (code: string, message: string) => ApplicationFailure.create({ type: SUBSCRIPTION_CHANGE_REFUSED_FAILURE, message, nonRetryable: true, details: [{ code, message }] });

export async function storeSubscription(input: SubscriptionWorkflowInput): Promise<{ status: SubscriptionStatus }> {
  const { chargeSubscriptionPeriod, applySubscriptionChange } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: input.paymentStepTimeoutMs ?? '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '1 minute' },
  });
  const { storeId } = input;
  // Handlers are registered before the first await (an Update arriving meanwhile would find none); until the run's
  // state is loaded, validators let requests through and handlers wait for it.
  let run: SubscriptionRun = {
    found: false, status: 'active', planId: '', periodStart: '', periodEnd: '', cancelAtPeriodEnd: false, periodStatus: null,
    invoiceId: null, attemptsMade: 0, lastDeclineCode: null, changesMade: 0, plans: [],
  };
  let loaded = false;
  let status: SubscriptionStatus = run.status;
  let planId = run.planId;
  let cancelAtPeriodEnd = false;
  let periodPaid = false;
  let attempts = 0;
  let lastDeclineCode: string | null = null;
  let nextRetryAt: number | null = null;
  let changesMade = 0;
  // One step at a time: a charge, a plan change, a cancel, the boundary. Closing: the boundary has begun.
  let busy = false;
  let closing = false;

  const state = (): SubscriptionState => ({
    status,
    planId,
    periodStart: run.periodStart,
    periodEnd: run.periodEnd,
    cancelAtPeriodEnd,
    attempts,
    nextRetryAt: nextRetryAt === null ? null : new Date(nextRetryAt).toISOString(),
    lastDeclineCode,
  });
  const showDetails = () =>
    setCurrentDetails(
      [
        `**${status}** — store ${storeId}, plan ${planId}${cancelAtPeriodEnd ? ' (cancels at period end)' : ''}`,
        `period ${run.periodStart} → ${run.periodEnd}: ${periodPaid ? 'paid' : 'not paid yet'}; invoice ${run.invoiceId ?? 'none'}`,
        `charge attempts failed: ${attempts}${lastDeclineCode ? ` (last: ${lastDeclineCode})` : ''}; next retry: ${nextRetryAt === null ? 'none' : new Date(nextRetryAt).toISOString()}`,
      ].join('\n'),
    );
  const setStatus = (s: SubscriptionStatus) => {
    status = s;
    upsertSearchAttributes([{ key: Status, value: s }]);
    showDetails();
  };

  const changeRefused = (to: string) => {
    if (!loaded) return undefined;
    const plan = run.plans.find((p) => p.id === to);
    const current = run.plans.find((p) => p.id === planId);
    if (!plan) return refusal(UNKNOWN_PLAN, `There is no plan "${to}".`);
    if (closing || status !== 'active' || !periodPaid) return refusal(SUBSCRIPTION_NOT_ACTIVE, `The subscription is ${closing ? 'renewing' : status === 'active' ? 'being charged' : status}; only an active, paid plan can be changed.`);
    if (to === planId) return refusal(SAME_PLAN, `The store is on the ${to} plan already.`);
    if (current && (current.interval !== plan.interval || current.currency !== plan.currency)) return refusal(UNKNOWN_PLAN, `Plan "${to}" has another interval or currency than "${planId}".`);
    return undefined;
  };
  const cancelRefused = () => (!loaded ? undefined : closing || status === 'canceled' || status === 'unpaid' ? refusal(SUBSCRIPTION_NOT_ACTIVE, `The subscription is ${closing ? 'renewing' : status}.`) : undefined);

  /** Runs `step` alone, after any step already running. */
  const alone = async <T>(step: () => Promise<T>): Promise<T> => {
    await condition(() => loaded && !busy);
    busy = true;
    try {
      return await step();
    } finally {
      busy = false;
    }
  };

  setHandler(subscriptionStateQuery, state);
  setHandler(
    changePlanUpdate,
    ({ planId: to }) =>
      alone(async () => {
        const refused = changeRefused(to); // again: the state may have moved while this one waited
        if (refused) throw refused;
        const n = ++changesMade;
        try {
          const change = await prepareSubscriptionChange({ storeId, planId: to, at: new Date(Date.now()).toISOString(), n });
          await applySubscriptionChange({ changeId: change.id });
        } catch (err) {
          // The step's refusal (or decline) is the Update's answer, not the activity's wrapper.
          if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) throw err.cause;
          throw err;
        }
        planId = to;
        showDetails();
        return state();
      }),
    {
      validator: ({ planId: to }) => {
        const refused = changeRefused(to);
        if (refused) throw refused;
      },
    },
  );
  setHandler(
    cancelAtPeriodEndUpdate,
    () =>
      alone(async () => {
        const refused = cancelRefused();
        if (refused) throw refused;
        await setSubscriptionCancelAtPeriodEnd({ storeId });
        cancelAtPeriodEnd = true;
        showDetails();
        return state();
      }),
    {
      validator: () => {
        const refused = cancelRefused();
        if (refused) throw refused;
      },
    },
  );

  run = await loadSubscriptionRun({ storeId });
  status = run.status;
  planId = run.planId;
  cancelAtPeriodEnd = run.cancelAtPeriodEnd;
  periodPaid = run.periodStatus === 'paid';
  attempts = run.attemptsMade;
  lastDeclineCode = run.lastDeclineCode;
  changesMade = run.changesMade;
  loaded = true;
  if (!run.found || run.status === 'canceled' || run.status === 'incomplete') {
    closing = true;
    await condition(allHandlersFinished);
    return { status: run.status };
  }
  upsertSearchAttributes([{ key: StoreId, value: storeId }, ...(run.invoiceId ? [{ key: InvoiceId, value: run.invoiceId }] : [])]);
  setStatus(status);

  // 1. The period's charge, and dunning while it is declined.
  if (run.periodStatus === 'open') {
    for (let attempt = attempts + 1; ; attempt++) {
      // Each charge alone (a cancel may come in between, during the waits); plan changes wait for a paid period.
      const result = await alone(() => chargeSubscriptionPeriod({ storeId, periodStart: run.periodStart, attempt }));
      if (result.outcome === 'paid') {
        periodPaid = true;
        nextRetryAt = null;
        setStatus('active');
        break;
      }
      attempts = attempt;
      lastDeclineCode = result.declineCode;
      const step = afterDecline(attempt, result.declineCode, input.retryScheduleMs);
      nextRetryAt = step.kind === 'retry' ? Date.now() + step.waitMs : null;
      const next = step.kind === 'retry' ? 'past_due' : 'unpaid';
      await enterSubscriptionDunning({ storeId, periodStart: run.periodStart, attempt, status: next, declineCode: result.declineCode, nextRetryAt: nextRetryAt === null ? null : new Date(nextRetryAt).toISOString() });
      setStatus(next);
      if (step.kind === 'give_up') break;
      await sleep(step.waitMs);
    }
  }
  const current = (): SubscriptionStatus => status;
  if (current() === 'unpaid' || run.periodStatus === 'unpaid') {
    // Nothing more to bill: the owner cancels (DELETE ends an unpaid plan at once) and subscribes again.
    closing = true;
    await condition(allHandlersFinished);
    setStatus('unpaid');
    return { status: 'unpaid' };
  }

  // 2. The period's end (a durable timer: a worker down at that moment fires it when one is back).
  await sleep(Math.max(1, Date.parse(run.periodEnd) - Date.now()));

  // 3. The boundary: no Update starts now; one already running finishes first.
  closing = true;
  const next = await alone(() => renewSubscriptionPeriod({ storeId, periodStart: run.periodStart }));
  await condition(allHandlersFinished);
  if (next.kind !== 'renewed') {
    setStatus(next.kind);
    return { status: next.kind };
  }
  return continueAsNew<typeof storeSubscription>(input);
}
