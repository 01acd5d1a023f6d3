import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Outcome } from '../domain/campaigns';

/**
 * The campaigns domain's workflow contract: ids, type names, updates and queries, inputs, results and failure
 * names of `campaign:<id>` (campaignLifecycle) and `pledge:<id>` (droppedPledge). A leaf: workflows,
 * activities, the API and tests import it; it imports nothing with I/O.
 */

// ---- campaign:<id> — the campaign's timers, decision and settlement (src/workflows/campaigns/campaignLifecycle.ts)

export const CAMPAIGN_LIFECYCLE_WORKFLOW = 'campaignLifecycle';
export const campaignWorkflowId = (campaignId: string) => `campaign:${campaignId}`;
export type CampaignLifecycleWorkflow = (input: CampaignLifecycleInput) => Promise<CampaignLifecycleResult>;

export type LifecyclePhase = 'starting' | 'scheduled' | 'live' | 'deciding' | 'settling' | 'settled';

export interface SettlementProgress {
  action: 'collect' | 'void';
  outcome: Outcome;
  /** Keyset cursor: the last pledge id a finished batch handled (null before the first batch). */
  afterPledgeId: string | null;
  processed: number;
  collected: number;
  failed: number;
  voided: number;
  pledgedCents: number;
  backerCount: number;
}

export interface CampaignLifecycleInput {
  campaignId: string;
  title: string;
  goalCents: number;
  currency: string;
  /** RFC 3339; absent or past means the campaign goes live at once. */
  startsAt?: string;
  endsAt: string;
  /** Pledges per settlement batch (SETTLEMENT_BATCH_SIZE at launch). */
  batchSize?: number;
  /** Set only by continue-as-new, to resume settlement where the previous run stopped. */
  phase?: LifecyclePhase;
  settlement?: SettlementProgress;
}

export interface CampaignLifecycleResult {
  outcome: Outcome | null;
  processed: number;
  collected: number;
  failed: number;
  voided: number;
}

export interface LifecycleState {
  phase: LifecyclePhase;
  endsAt: string;
  cancelled: boolean;
  outcome?: Outcome;
  pledgedCents: number;
  backerCount: number;
  processed: number;
  collected: number;
  failed: number;
  voided: number;
}

/** Failure types of the updates, which the API maps to problem codes. */
export const INVALID_DEADLINE = 'InvalidDeadline';
export const CAMPAIGN_ALREADY_DECIDED = 'CampaignAlreadyDecided';
/** Failure type of a lifecycle step whose campaign row does not exist (non-retryable). */
export const CAMPAIGN_NOT_FOUND = 'CampaignNotFound';

export const extendDeadlineUpdate = defineUpdate<{ ends_at: string }, [{ endsAt: string }]>('extendDeadline');
export const cancelCampaignUpdate = defineUpdate<{ status: Outcome }, [{ reason?: string }]>('cancelCampaign');
export const lifecycleStateQuery = defineQuery<LifecycleState>('lifecycleState');


// ---- pledge:<id> — one failed pledge's dropped-pledge window (src/workflows/campaigns/droppedPledge.ts)

export const DROPPED_PLEDGE_WORKFLOW = 'droppedPledge';
export const droppedPledgeWorkflowId = (pledgeId: string) => `pledge:${pledgeId}`;
export type DroppedPledgeWorkflow = (input: DroppedPledgeInput) => Promise<DroppedPledgeResult>;

export interface DroppedPledgeResult {
  status: 'collected' | 'dropped';
  attempts: number;
}

export interface DroppedPledgeInput {
  pledgeId: string;
  campaignId: string;
  backerId: string;
  amountCents: number;
  currency: string;
  /** How long from now until the pledge is dropped. */
  windowMs: number;
  reminderIntervalMs: number;
}

export type DroppedPledgePhase = 'waiting' | 'final_retry' | 'collected' | 'dropped';

export interface RetryPaymentResult {
  status: 'collected' | 'payment_failed';
  failure_code?: string;
}

export interface DroppedPledgeState {
  phase: DroppedPledgePhase;
  attempts: number;
  remindersSent: number;
  nextReminderAt: string | null;
  dropsAt: string;
  lastFailureCode: string | null;
}

export const retryPaymentUpdate = defineUpdate<RetryPaymentResult, []>('retryPayment');
export const droppedPledgeStateQuery = defineQuery<DroppedPledgeState>('state');
