import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createCampaignLifecycleSteps, type CampaignDecision, type CampaignSnapshot } from '../../campaigns/campaignLifecycleSteps';
import { CAMPAIGN_NOT_FOUND } from '../../campaigns/contract';
import { createSettlementBatches, SettlementStoppedError, type BatchProgress, type SettleBatchInput, type SettleBatchResult } from '../../campaigns/settlementBatch';
import { DomainError } from '../../domain/errors';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The campaign lifecycle's steps (workflow `campaign:<id>`), as adapters over src/campaigns, in two
 * factories by task queue:
 *  - createCampaignActivities (main queue): the campaign row's changes (campaignLifecycleSteps.ts), each
 *    idempotent; an unknown campaign is the non-retryable CAMPAIGN_NOT_FOUND.
 *  - createSettlementActivities (payments queue: every step may call the provider): one heartbeating batch
 *    of the settlement (settlementBatch.ts); the heartbeat holds its resumable progress.
 */

export type { CampaignDecision, CampaignSnapshot, SettleBatchInput, SettleBatchResult };

/** An unknown campaign as the workflow's non-retryable failure. */
async function failingOnUnknownCampaign<T>(campaignId: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof DomainError && err.kind === 'not_found')) throw err;
    throw ApplicationFailure.create({ type: CAMPAIGN_NOT_FOUND, message: `Campaign ${campaignId} does not exist.`, nonRetryable: true });
  }
}

export function createCampaignActivities(deps: ActivityDeps) {
  const steps = createCampaignLifecycleSteps(deps);

  return {
    /** draft → scheduled/live, for a launch whose process died between starting the workflow and committing. */
    activateCampaign: (input: { campaignId: string }): Promise<CampaignSnapshot> =>
      failingOnUnknownCampaign(input.campaignId, () => steps.activate(input.campaignId)),

    /** scheduled → live when starts_at arrives. */
    markCampaignLive: (input: { campaignId: string }): Promise<CampaignSnapshot> =>
      failingOnUnknownCampaign(input.campaignId, () => steps.markLive(input.campaignId)),

    /** Persists an accepted deadline extension (only ever later). */
    setCampaignDeadline: (input: { campaignId: string; endsAt: string }): Promise<CampaignSnapshot> =>
      failingOnUnknownCampaign(input.campaignId, () => steps.setDeadline(input.campaignId, new Date(input.endsAt))),

    /** Decides the outcome once and tells the backers, the owner and its webhook; a re-run returns the stored decision. */
    decideCampaign: (input: { campaignId: string; cancelled: boolean }): Promise<CampaignDecision> =>
      failingOnUnknownCampaign(input.campaignId, () => steps.decide(input.campaignId, input.cancelled)),

    /** Every pledge has been collected or voided (or handed to its dropped-pledge window). */
    markCampaignSettled: (input: { campaignId: string }): Promise<CampaignSnapshot> =>
      failingOnUnknownCampaign(input.campaignId, () => steps.markSettled(input.campaignId)),
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;

/** Settlement's steps (payments task queue: every one may call the provider). */
export function createSettlementActivities(deps: ActivityDeps) {
  const batches = createSettlementBatches(deps);

  return {
    /**
     * One page of a campaign's settlement. Heartbeats the batch's progress; a retry resumes from the last
     * heartbeat, and a cancel (or a worker shutting down) stops it there.
     */
    async settlePledgeBatch(input: SettleBatchInput): Promise<SettleBatchResult> {
      const ctx = Context.current();
      try {
        return await batches.settle(input, {
          resumed: ctx.info.heartbeatDetails as BatchProgress | undefined,
          progressed: (progress) => ctx.heartbeat(progress),
          stopped: () => ctx.cancellationSignal.aborted,
        });
      } catch (err) {
        if (err instanceof SettlementStoppedError) throw new CancelledFailure('settlement batch cancelled; resume from the last heartbeat');
        throw err;
      }
    },
  };
}
