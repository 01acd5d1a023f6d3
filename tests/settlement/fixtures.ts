import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { AppDeps } from '../../src/api/deps';
import { issueToken } from '../../src/accounts/tokens';
import { createSettlementActivities, type SettleBatchInput, type SettleBatchResult } from '../../src/activities/settlement';
import { recordLedgerEntry } from '../../src/campaigns/ledger';
import { createPaymentService } from '../../src/payments/paymentService';

/**
 * Settlement fixtures written straight to the database (users, a decided campaign, tiers) with pledges whose
 * payments are real: saved cards and holds made through the payment service on the simulated gateway, as the
 * pledge routes would make them. Nothing here depends on the campaign or pledge routes.
 */

export async function makeUsers(deps: AppDeps, n: number, role: 'backer' | 'creator' = 'backer'): Promise<string[]> {
  const rows = Array.from({ length: n }, () => {
    const email = `${role}-${randomUUID()}@example.test`;
    return { email, name: `${role} ${email.slice(role.length + 1, role.length + 9)}`, password_hash: 'fixture-without-password', role, base_role: role };
  });
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += 500) {
    const inserted = (await deps.db('users').insert(rows.slice(i, i + 500)).returning('id')) as Array<{ id: string }>;
    ids.push(...inserted.map((r) => r.id));
  }
  return ids;
}

export const bearer = (deps: AppDeps, userId: string) => `Bearer ${issueToken(deps.config, userId).token}`;

export interface CampaignFixture {
  id: string;
  ownerId: string;
  tierId: string;
}

export async function makeCampaign(
  deps: AppDeps,
  opts: { status?: string; goalCents?: number; fundingModel?: 'all_or_nothing' | 'flexible'; endsInMs?: number; tierQuantity?: number | null } = {},
): Promise<CampaignFixture> {
  const [ownerId] = await makeUsers(deps, 1, 'creator');
  const endsAt = new Date(Date.now() + (opts.endsInMs ?? -1000));
  const [campaign] = (await deps.db('campaigns')
    .insert({
      owner_id: ownerId,
      title: `Settlement ${randomUUID().slice(0, 8)}`,
      description: 'A campaign built for settlement tests',
      category: 'technology',
      goal_cents: opts.goalCents ?? 1_000,
      currency: 'USD',
      funding_model: opts.fundingModel ?? 'all_or_nothing',
      status: opts.status ?? 'succeeded',
      starts_at: new Date(endsAt.getTime() - 3_600_000),
      ends_at: endsAt,
      launched_at: new Date(endsAt.getTime() - 3_600_000),
    })
    .returning('id')) as Array<{ id: string }>;
  const [tier] = (await deps.db('reward_tiers')
    .insert({ campaign_id: campaign!.id, position: 1, title: 'Early bird', min_amount_cents: 500, quantity: opts.tierQuantity === undefined ? 1_000 : opts.tierQuantity })
    .returning('id')) as Array<{ id: string }>;
  return { id: campaign!.id, ownerId: ownerId!, tierId: tier!.id };
}

export interface PledgeSpec {
  backerId: string;
  amountCents?: number;
  mode?: 'save_card' | 'authorize';
  paymentMethod?: string;
  tier?: boolean;
  /** Leave the pledge pending (no payment made), as a request interrupted before the provider answered. */
  pending?: boolean;
}

/** An active pledge: card saved (save_card) or funds held (authorize), counted in the campaign's totals. */
export async function makePledge(deps: AppDeps, campaign: CampaignFixture, spec: PledgeSpec): Promise<string> {
  const payments = createPaymentService(deps);
  const id = randomUUID();
  const mode = spec.mode ?? 'save_card';
  const amount = spec.amountCents ?? 1_000;
  const paymentMethod = spec.paymentMethod ?? 'pm_card_visa';
  const paymentKey = mode === 'save_card' ? `pledge:${id}:setup` : `pledge:${id}:authorize`;
  await deps.db('pledges').insert({
    id,
    campaign_id: campaign.id,
    backer_id: spec.backerId,
    reward_tier_id: spec.tier ? campaign.tierId : null,
    amount_cents: amount,
    currency: 'USD',
    status: 'pending',
    payment_mode: mode,
    payment_method: paymentMethod,
    payment_key: paymentKey,
  });
  if (spec.tier) await deps.db('reward_tiers').where({ id: campaign.tierId }).increment('claimed', 1);
  if (spec.pending) return id;

  const record =
    mode === 'save_card'
      ? await payments.savePaymentMethod({ businessKey: paymentKey, paymentMethod, customerRef: spec.backerId })
      : await payments.authorizePayment({ businessKey: paymentKey, amountCents: amount, currency: 'USD', paymentMethod, customerRef: spec.backerId });
  const expected = mode === 'save_card' ? 'succeeded' : 'requires_capture';
  if (record.status !== expected) throw new Error(`fixture payment for ${paymentMethod} is ${record.status}`);
  await deps.db.transaction(async (trx) => {
    await trx('pledges').where({ id }).update({
      status: 'active',
      provider_customer_id: record.providerCustomerId,
      provider_payment_method: record.providerPaymentMethod,
    });
    await trx('campaigns')
      .where({ id: campaign.id })
      .update({ pledged_cents: trx.raw('pledged_cents + ?', [amount]), backer_count: trx.raw('backer_count + 1') });
    if (mode === 'authorize') {
      await recordLedgerEntry(trx, {
        campaignId: campaign.id,
        pledgeId: id,
        kind: 'authorization',
        amountCents: amount,
        currency: 'USD',
        provider: record.provider,
        providerId: record.providerPaymentId!,
        businessKey: paymentKey,
      });
    }
  });
  return id;
}

/** Many pledges at once, a few payment calls in flight at a time. */
export async function makePledges(deps: AppDeps, campaign: CampaignFixture, specs: PledgeSpec[]): Promise<string[]> {
  const ids: string[] = new Array<string>(specs.length);
  for (let i = 0; i < specs.length; i += 10) {
    const chunk = specs.slice(i, i + 10);
    const made = await Promise.all(chunk.map((s) => makePledge(deps, campaign, s)));
    made.forEach((id, j) => (ids[i + j] = id));
  }
  return ids;
}

/** Provider intents per pledge, by what they did: the gateway's own records, not ours. */
export async function intentsFor(deps: AppDeps, pledgeId: string) {
  return (await deps.db('sim_payment_intents')
    .whereRaw("metadata->>'business_key' LIKE ?", [`pledge:${pledgeId}:%`])
    .select('id', 'status', 'off_session', 'capture_method', 'amount_cents', 'captured_cents', deps.db.raw("metadata->>'business_key' AS business_key"))) as Array<{
    id: string;
    status: string;
    off_session: boolean;
    capture_method: string;
    amount_cents: number;
    captured_cents: number;
    business_key: string;
  }>;
}

/** Money the gateway actually took for each pledge: sum of captured_cents over its intents. */
export async function takenByPledge(deps: AppDeps, pledgeIds: string[]): Promise<Map<string, { intents: number; charged: number; capturedCents: number }>> {
  const rows = (await deps.db.raw(
    `SELECT substring(metadata->>'business_key' from '^pledge:([0-9a-f-]{36}):') AS pledge_id,
            count(*)::int AS intents,
            count(*) FILTER (WHERE captured_cents > 0)::int AS charged,
            coalesce(sum(captured_cents), 0)::bigint AS captured
       FROM sim_payment_intents
      WHERE substring(metadata->>'business_key' from '^pledge:([0-9a-f-]{36}):') = ANY(?::text[])
      GROUP BY 1`,
    [pledgeIds],
  )) as { rows: Array<{ pledge_id: string; intents: number; charged: number; captured: number }> };
  return new Map(rows.rows.map((r) => [r.pledge_id, { intents: r.intents, charged: r.charged, capturedCents: Number(r.captured) }]));
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

export async function pledgeStatuses(deps: AppDeps, ids: string[]): Promise<Record<string, number>> {
  const rows = (await deps.db('pledges').whereIn('id', ids).groupBy('status').select('status').count({ n: '*' })) as Array<{ status: string; n: string }>;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
