/**
 * Pure crowdfunding rules: no I/O, no clocks (callers pass `now`), so workflows, activities, routes and unit
 * tests all share exactly one definition of each rule.
 */

export const CAMPAIGN_CATEGORIES = ['charity', 'business', 'personal', 'creative', 'technology', 'community', 'other'] as const;
export type CampaignCategory = (typeof CAMPAIGN_CATEGORIES)[number];

export const FUNDING_MODELS = ['all_or_nothing', 'flexible'] as const;
export type FundingModel = (typeof FUNDING_MODELS)[number];

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'live', 'succeeded', 'failed', 'cancelled', 'settled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

const campaignTransitions: Record<CampaignStatus, readonly CampaignStatus[]> = {
  draft: ['scheduled', 'live', 'cancelled'],
  scheduled: ['live', 'cancelled'],
  live: ['succeeded', 'failed', 'cancelled'],
  succeeded: ['settled'],
  failed: ['settled'],
  cancelled: ['settled'],
  settled: [],
};

export function canTransitionCampaign(from: CampaignStatus, to: CampaignStatus): boolean {
  return campaignTransitions[from].includes(to);
}

/** Cancel and deadline changes are allowed until the deadline has been decided. */
export function isBeforeDecision(status: CampaignStatus): boolean {
  return status === 'draft' || status === 'scheduled' || status === 'live';
}

/** A launched campaign waits for its starts_at (scheduled), or is live at once when it has none or it has passed. */
export function statusAtLaunch(startsAt: Date | null, now: Date): 'scheduled' | 'live' {
  return startsAt && startsAt.getTime() > now.getTime() ? 'scheduled' : 'live';
}

export const PLEDGE_STATUSES = [
  'pending',
  'active',
  'requires_action',
  'collected',
  'payment_failed',
  'dropped',
  'cancelled',
  'voided',
  'refunded',
  'declined',
] as const;
export type PledgeStatus = (typeof PLEDGE_STATUSES)[number];

/** Pledges that hold a reward slot and count toward the campaign's totals. */
export const COUNTED_PLEDGE_STATUSES: readonly PledgeStatus[] = ['active', 'collected', 'payment_failed'];
/** Pledges that hold a reward slot (a pledge awaiting authentication keeps its slot until it resolves). */
export const SLOT_HOLDING_PLEDGE_STATUSES: readonly PledgeStatus[] = ['pending', 'requires_action', 'active', 'collected', 'payment_failed'];

export type Outcome = 'succeeded' | 'failed' | 'cancelled';

/**
 * At the deadline: all-or-nothing collects only when the goal is met; flexible always collects what was
 * pledged; a cancelled campaign never collects.
 */
export function decideOutcome(input: { fundingModel: FundingModel; goalCents: number; pledgedCents: number; cancelled: boolean }): {
  outcome: Outcome;
  settlement: 'collect' | 'void';
} {
  const funded = input.fundingModel === 'flexible' ? input.pledgedCents > 0 : input.pledgedCents >= input.goalCents;
  const outcome: Outcome = input.cancelled ? 'cancelled' : funded ? 'succeeded' : 'failed';
  return { outcome, settlement: settlementFor(outcome) };
}

/** What settlement does with the pledges of a decided campaign: only a success collects. */
export function settlementFor(outcome: Outcome): 'collect' | 'void' {
  return outcome === 'succeeded' ? 'collect' : 'void';
}

/**
 * Card holds expire (about 7 days online, ~5 for some merchant-initiated flows): a deadline beyond the hold
 * window means saving the card now and charging off-session later; a near deadline can hold funds now.
 */
export function paymentModeFor(endsAt: Date, now: Date, holdWindowMs: number): 'authorize' | 'save_card' {
  return endsAt.getTime() - now.getTime() > holdWindowMs ? 'save_card' : 'authorize';
}

/** Whole percent, rounded down, so 99.6% never shows as 100% funded. */
export function percentFunded(pledgedCents: number, goalCents: number): number {
  return goalCents > 0 ? Math.floor((pledgedCents * 100) / goalCents) : 0;
}

export function secondsLeft(endsAt: Date, now: Date): number {
  return Math.max(0, Math.floor((endsAt.getTime() - now.getTime()) / 1000));
}

/** The validator behind the deadline-extension Update: a new deadline must be later than now and than the current one. */
export function deadlineChangeError(current: Date, requested: Date, now: Date): string | undefined {
  if (requested.getTime() <= now.getTime()) return 'The new deadline must be in the future.';
  if (requested.getTime() <= current.getTime()) return 'The new deadline must be later than the current one.';
  return undefined;
}

/**
 * In the last `lockWindowMs` before the deadline of an all-or-nothing campaign, a backer may not cancel or
 * lower a pledge when that would take the campaign from funded to below its goal.
 */
export function wouldDropBelowGoal(input: {
  fundingModel: FundingModel;
  goalCents: number;
  pledgedCents: number;
  /** How much the change removes from the total (the whole amount for a cancel). */
  reductionCents: number;
  endsAt: Date;
  now: Date;
  lockWindowMs: number;
}): boolean {
  if (input.fundingModel !== 'all_or_nothing' || input.reductionCents <= 0) return false;
  if (input.endsAt.getTime() - input.now.getTime() > input.lockWindowMs) return false;
  return input.pledgedCents >= input.goalCents && input.pledgedCents - input.reductionCents < input.goalCents;
}

/** Operator-facing one-liner shown as the workflow's static summary in the Temporal Web UI. */
export function campaignSummary(c: { title: string; goalCents: number; currency: string; endsAt: Date }): string {
  return `Campaign ${c.title}: goal ${formatMoney(c.goalCents, c.currency)}, ends ${c.endsAt.toISOString()}`;
}

export function formatMoney(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const units = Math.floor(abs / 100);
  const rest = String(abs % 100).padStart(2, '0');
  const symbol = currency.toUpperCase() === 'USD' ? '$' : `${currency.toUpperCase()} `;
  return `${sign}${symbol}${units.toLocaleString('en-US')}.${rest}`;
}
