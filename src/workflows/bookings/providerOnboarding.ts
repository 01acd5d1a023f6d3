import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  approveProviderUpdate,
  payoutDetailsReadySignal,
  PROVIDER_NOT_FOUND,
  PROVIDER_NOT_PENDING,
  providerOnboardingStateQuery,
  rejectProviderUpdate,
  type ProviderOnboardingInput,
  type ProviderOnboardingResult,
  type ProviderOnboardingState,
  type ProviderStatus,
} from '../../bookings/contract';
import { Status } from '../../temporal/searchAttributes';

/**
 * One provider's onboarding: `provider:<id>`, started with the provider row (status pending). It waits for two
 * things, in either order: an operator's decision (Updates approveProvider / rejectProvider, whose validators
 * refuse once the onboarding is no longer pending) and the payout details (payoutDetailsReadySignal, sent when
 * the gateway's connected account answers ready).
 *
 * The rule: approval makes the provider `active` at once — searchable and bookable, as API.md's approve → 200
 * `status: active` says — whether or not the payout details are in; money earned meanwhile is simply held
 * (billing pays out to the connected account once it is ready). So the workflow ends when the provider is
 * rejected, expired, or active with payout details ready; an active provider without them keeps it waiting for
 * the signal (no timers: nothing expires an approved provider).
 *
 * Timers: one reminder at start + PROVIDER_ONBOARDING_REMINDER if anything is still missing (the operator's
 * review or the payout details; it names which), and expiry at start + PROVIDER_ONBOARDING_EXPIRY if no
 * operator has decided by then (status expired, the provider told). Both are durable and input, so tests run
 * them in seconds. Every step is a conditional row change (src/bookings/providerOnboarding.ts), so a retried
 * or replayed step does nothing twice. The Status search attribute follows the provider's status.
 */

const { approveProvider, rejectProvider, expireProvider, remindProvider, recordPayoutReady } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '30 seconds' },
});

// The row is committed by the request that starts this workflow, a moment after the start: a missing row is
// retried until rowGraceMs after the start, then ProviderNotFound says there is no provider.
const { providerOnboardingPosition } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});

const ROW_COMMIT_GRACE_MS = 60_000;

export async function providerOnboarding(input: ProviderOnboardingInput): Promise<ProviderOnboardingResult> {
  const startedAt = workflowInfo().startTime.getTime();
  const remindAt = startedAt + input.reminderMs;
  const expiresAt = startedAt + input.expiryMs;

  // Until the row is read, the status is not known: handlers are registered first (an Update arriving before a
  // handler exists is refused), and a decision waits for the row before it is judged.
  let loaded = false;
  let status: ProviderStatus = 'pending';
  let payoutReady = false;
  let decidedBy: string | undefined;
  let reason: string | undefined;
  let reminded = false;
  /** A decision's activity is running; another decision is refused and the expiry waits for it. */
  let deciding = false;
  /** The expiry's activity is running; decisions are refused meanwhile. */
  let expiring = false;
  /** The account a payoutDetailsReady signal named, until recorded on the row. */
  let payoutAccount: string | undefined;

  const state = (): ProviderOnboardingState => ({ status, payoutReady, ...(decidedBy ? { decidedBy } : {}), ...(reason ? { reason } : {}) });
  let shownStatus: ProviderStatus | undefined;
  const show = () => {
    if (status !== shownStatus) {
      upsertSearchAttributes([{ key: Status, value: status }]);
      shownStatus = status;
    }
    const missing = [...(status === 'pending' ? ['operator review'] : []), ...(payoutReady ? [] : ['payout details'])];
    setCurrentDetails(
      [
        `**Status:** ${status}${decidedBy ? ` (decided by operator ${decidedBy})` : ''}${reason ? `; reason: ${reason}` : ''}`,
        `**Payout details:** ${payoutReady ? 'ready' : 'missing'}`,
        `**Waiting for:** ${status === 'rejected' || status === 'expired' || missing.length === 0 ? 'nothing' : missing.join(', ')}`,
        `**Reminder:** ${reminded ? 'sent' : new Date(remindAt).toISOString()}; **expires if undecided:** ${new Date(expiresAt).toISOString()}`,
      ].join('\n\n'),
    );
  };
  // Only forward: a provider leaves pending once and payout details never become unready, so an older answer
  // arriving after a newer one (an approval overtaking recordPayoutReady) cannot put the workflow back.
  const apply = (now: { status: ProviderStatus; payoutReady: boolean }) => {
    if (status === 'pending') status = now.status;
    payoutReady ||= now.payoutReady;
    show();
  };
  const notPending = () =>
    ApplicationFailure.create({ type: PROVIDER_NOT_PENDING, nonRetryable: true, message: `The onboarding is no longer pending (${deciding || expiring ? 'being decided' : status}).` });
  const decidable = () => status === 'pending' && !deciding && !expiring;
  const onlyWhilePending = (_decision: { operatorId: string }) => {
    if (loaded && !decidable()) throw notPending();
  };
  /** Runs one decision; the row's answer is the truth (a decision on a row no longer pending is refused). */
  const decide = async (run: () => Promise<{ status: ProviderStatus; payoutReady: boolean }>, expected: ProviderStatus, operatorId: string, why?: string): Promise<ProviderOnboardingState> => {
    await condition(() => loaded);
    // Judged and claimed with no await in between: of two decisions, exactly one goes on.
    if (!decidable()) throw notPending();
    deciding = true;
    try {
      const now = await run();
      apply(now);
      if (now.status !== expected) throw notPending();
      decidedBy = operatorId;
      reason = why;
      show();
      return state();
    } finally {
      deciding = false;
    }
  };

  setHandler(providerOnboardingStateQuery, state);
  setHandler(approveProviderUpdate, ({ operatorId }) => decide(() => approveProvider({ providerId: input.providerId, operatorId }), 'active', operatorId), {
    validator: onlyWhilePending,
  });
  setHandler(
    rejectProviderUpdate,
    ({ operatorId, reason: why }) => decide(() => rejectProvider({ providerId: input.providerId, operatorId, ...(why ? { reason: why } : {}) }), 'rejected', operatorId, why),
    { validator: onlyWhilePending },
  );
  setHandler(payoutDetailsReadySignal, ({ accountId }) => {
    if (!payoutReady) payoutAccount = accountId;
  });

  try {
    apply(await providerOnboardingPosition({ providerId: input.providerId, startedAt: new Date(startedAt).toISOString(), graceMs: input.rowGraceMs ?? ROW_COMMIT_GRACE_MS }));
  } catch (err) {
    // The onboarding request rolled back: there is no provider to onboard (decisions waiting are refused).
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === PROVIDER_NOT_FOUND) {
      status = 'expired';
      loaded = true;
      show();
      setCurrentDetails('No provider row: the onboarding request rolled back.');
      await condition(allHandlersFinished);
      return { status: 'expired' };
    }
    throw err;
  }
  loaded = true;

  // Handlers change these between awaits; read them through functions so no narrowing goes stale.
  const finished = () => status === 'rejected' || status === 'expired' || (status === 'active' && payoutReady);
  const isDeciding = () => deciding;
  while (!finished()) {
    if (isDeciding()) {
      await condition(() => !deciding);
      continue;
    }
    if (payoutAccount !== undefined && !payoutReady) {
      apply(await recordPayoutReady({ providerId: input.providerId, accountId: payoutAccount }));
      payoutAccount = undefined;
      continue;
    }
    const now = Date.now();
    if (status === 'pending' && now >= expiresAt) {
      expiring = true;
      try {
        apply(await expireProvider({ providerId: input.providerId }));
      } finally {
        expiring = false;
      }
      continue;
    }
    if (!reminded && now >= remindAt) {
      reminded = true;
      apply(await remindProvider({ providerId: input.providerId }));
      continue;
    }
    const wakeAt = Math.min(reminded ? Infinity : remindAt, status === 'pending' ? expiresAt : Infinity);
    const seenStatus = status;
    const woken = () => finished() || deciding || status !== seenStatus || (payoutAccount !== undefined && !payoutReady);
    if (wakeAt === Infinity) await condition(woken);
    else await condition(woken, Math.max(1, wakeAt - Date.now()));
  }

  // A decision's Update may still be answering.
  await condition(allHandlersFinished);
  return { status };
}
