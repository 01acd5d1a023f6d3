import { MockActivityEnvironment } from '@temporalio/testing';
import type { AppDeps } from '../../src/api/deps';
import { createSettlementActivities, type SettleBatchInput, type SettleBatchResult } from '../../src/activities/campaigns/campaignLifecycle';
import { makeCampaign, type TestCampaign } from '../helpers/fixtures';

/**
 * Settlement-only fixtures. Users, pledges with real payments and the gateway's records come from the
 * shared database fixtures in ../helpers/fixtures; nothing here depends on the campaign or pledge routes.
 */

export interface SettlementCampaign extends TestCampaign {
  /** Its one reward tier ('Early bird', from $5). */
  tierId: string;
}

/**
 * A campaign as settlement finds it: past its deadline (started an hour before it) and decided, succeeded
 * unless told otherwise, with a goal of $10 and one reward tier of 1,000 slots (null: unlimited).
 */
export async function makeSettlementCampaign(
  deps: AppDeps,
  opts: { status?: string; goalCents?: number; fundingModel?: 'all_or_nothing' | 'flexible'; endsInMs?: number; tierQuantity?: number | null } = {},
): Promise<SettlementCampaign> {
  const endsInMs = opts.endsInMs ?? -1000;
  const campaign = await makeCampaign(deps, {
    status: opts.status ?? 'succeeded',
    goalCents: opts.goalCents ?? 1_000,
    fundingModel: opts.fundingModel,
    endsInMs,
    startsInMs: endsInMs - 3_600_000,
    tiers: [{ title: 'Early bird', minAmountCents: 500, quantity: opts.tierQuantity === undefined ? 1_000 : opts.tierQuantity }],
  });
  return { ...campaign, tierId: campaign.tiers[0]!.id };
}

/** Runs settlePledgeBatch in a mocked activity context, collecting its heartbeats. */
export function batchRunner(deps: AppDeps) {
  const activities = createSettlementActivities(deps);
  return {
    activities,
    async run(input: SettleBatchInput, heartbeatDetails?: unknown): Promise<{ result: SettleBatchResult; heartbeats: unknown[] }> {
      const env = new MockActivityEnvironment({ heartbeatDetails, heartbeatTimeoutMs: 30_000 });
      const heartbeats: unknown[] = [];
      env.on('heartbeat', (d: unknown) => heartbeats.push(d));
      const result = (await env.run(activities.settlePledgeBatch, input)) as SettleBatchResult;
      return { result, heartbeats };
    },
  };
}

/** How many of these pledges are in each status. */
export async function pledgeStatuses(deps: AppDeps, ids: string[]): Promise<Record<string, number>> {
  const rows = (await deps.db('pledges').whereIn('id', ids).groupBy('status').select('status').count({ n: '*' })) as Array<{ status: string; n: string }>;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
