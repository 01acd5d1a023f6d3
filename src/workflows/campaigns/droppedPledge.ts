import {
  allHandlersFinished,
  condition,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import { formatMoney } from '../../domain/campaigns';
import { Status } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';
import { type DroppedPledgeInput, type DroppedPledgePhase, type DroppedPledgeState, type RetryPaymentResult, droppedPledgeStateQuery, retryPaymentUpdate } from '../../campaigns/contract';

/**
 * The dropped-pledge window of one pledge whose charge failed after a successful campaign (`pledge:<id>`):
 * reminders every reminderIntervalMs, an immediate retry whenever the backer gives a new card (Update
 * `retryPayment`), a final retry when the window ends, then the pledge is dropped and its reward slot freed.
 * Every duration is input, so tests run the real timers in seconds.
 */

const { sendPaymentReminder, dropPledge } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

export async function droppedPledge(input: DroppedPledgeInput): Promise<{ status: 'collected' | 'dropped'; attempts: number }> {
  const { retryPledgeCharge } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '1 minute' },
  });

  const dropsAt = Date.now() + input.windowMs;
  let phase: DroppedPledgePhase = 'waiting';
  let attempts = 0;
  let remindersSent = 0;
  let nextReminderAt: number | null = Date.now() + input.reminderIntervalMs < dropsAt ? Date.now() + input.reminderIntervalMs : null;
  let lastFailureCode: string | null = null;
  // One charge at a time: an Update's retry and the final retry must never overlap.
  let charging = false;

  const state = (): DroppedPledgeState => ({
    phase,
    attempts,
    remindersSent,
    nextReminderAt: nextReminderAt === null ? null : new Date(nextReminderAt).toISOString(),
    dropsAt: new Date(dropsAt).toISOString(),
    lastFailureCode,
  });
  const showDetails = () =>
    setCurrentDetails(
      [
        `**${phase}** — pledge ${input.pledgeId}, ${formatMoney(input.amountCents, input.currency)}`,
        `charge retries: ${attempts}${lastFailureCode ? ` (last failure: ${lastFailureCode})` : ''}`,
        `reminders sent: ${remindersSent}; next reminder: ${nextReminderAt === null ? 'none' : new Date(nextReminderAt).toISOString()}`,
        `drops at: ${new Date(dropsAt).toISOString()}`,
      ].join('\n'),
    );
  const setPhase = (p: DroppedPledgePhase) => {
    phase = p;
    upsertSearchAttributes([{ key: Status, value: p === 'waiting' || p === 'final_retry' ? 'payment_failed' : p }]);
    showDetails();
  };

  const retry = async (): Promise<RetryPaymentResult> => {
    await condition(() => !charging);
    charging = true;
    try {
      // Another retry may have settled it while this one waited for its turn.
      if (phase === 'collected') return { status: 'collected' };
      if (phase === 'dropped') return { status: 'payment_failed', failure_code: 'pledge_dropped' };
      attempts++;
      const result = await retryPledgeCharge({ pledgeId: input.pledgeId });
      if (result.status === 'collected') setPhase('collected');
      else {
        lastFailureCode = result.failure_code ?? null;
        showDetails();
      }
      return result;
    } finally {
      charging = false;
    }
  };

  setHandler(droppedPledgeStateQuery, state);
  setHandler(retryPaymentUpdate, retry, {
    validator: () => {
      if (phase !== 'waiting') throw new Error(`The pledge's payment window is ${phase === 'final_retry' ? 'closing' : 'over'} (${phase}).`);
    },
  });
  setPhase('waiting');

  // Handlers change the phase between awaits; read it through a function so no narrowing goes stale.
  const current = (): DroppedPledgePhase => phase;
  while (current() === 'waiting' && Date.now() < dropsAt) {
    const wakeAt = nextReminderAt ?? dropsAt;
    await condition(() => phase !== 'waiting', Math.max(1, wakeAt - Date.now()));
    // A timer that fired late (workers were down) past the window's end sends no reminder: the final retry is next.
    if (current() !== 'waiting' || nextReminderAt === null || Date.now() < nextReminderAt || Date.now() >= dropsAt) continue;
    remindersSent++;
    const n = remindersSent;
    nextReminderAt = nextReminderAt + input.reminderIntervalMs < dropsAt ? nextReminderAt + input.reminderIntervalMs : null;
    showDetails();
    await sendPaymentReminder({ pledgeId: input.pledgeId, n });
  }

  if (current() === 'waiting') {
    // No new Update may start now; one already running finishes first.
    setPhase('final_retry');
    nextReminderAt = null;
    await retry();
  }
  if (current() !== 'collected') {
    await dropPledge({ pledgeId: input.pledgeId });
    setPhase('dropped');
  }
  await condition(allHandlersFinished);
  return { status: current() === 'collected' ? 'collected' : 'dropped', attempts };
}
