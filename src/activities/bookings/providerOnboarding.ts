import { ApplicationFailure } from '@temporalio/common';
import { PROVIDER_NOT_FOUND } from '../../bookings/contract';
import {
  approveProvider,
  expireProvider,
  onboardingPosition,
  recordPayoutReady,
  rejectProvider,
  remindProvider,
  type OnboardingPosition,
} from '../../bookings/providerOnboarding';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The `provider:<id>` workflow's steps (src/bookings/providerOnboarding.ts): each a conditional row change
 * that answers where the onboarding now is, so a retried step changes and notifies nothing twice.
 */
export function createProviderOnboardingActivities(deps: Pick<ActivityDeps, 'db'>) {
  const { db } = deps;
  return {
    /**
     * Where the onboarding is. A missing row is "not committed yet" (retryable) until `graceMs` after the
     * workflow's start, then ProviderNotFound (non-retryable): the onboarding request rolled back.
     */
    async providerOnboardingPosition(input: { providerId: string; startedAt: string; graceMs: number }): Promise<OnboardingPosition> {
      const now = await onboardingPosition(db, input.providerId);
      if (now) return now;
      const since = Date.now() - Date.parse(input.startedAt);
      if (since < input.graceMs) throw ApplicationFailure.retryable(`provider ${input.providerId} not committed yet (${since} ms after the start)`, 'ProviderNotCommitted');
      throw ApplicationFailure.nonRetryable(`provider ${input.providerId} still missing ${since} ms after its workflow started: its onboarding rolled back`, PROVIDER_NOT_FOUND);
    },
    approveProvider: (input: { providerId: string; operatorId: string }) => approveProvider(db, input),
    rejectProvider: (input: { providerId: string; operatorId: string; reason?: string }) => rejectProvider(db, input),
    expireProvider: (input: { providerId: string }) => expireProvider(db, input),
    remindProvider: (input: { providerId: string }) => remindProvider(db, input),
    recordPayoutReady: (input: { providerId: string; accountId: string }) => recordPayoutReady(db, input),
  };
}
