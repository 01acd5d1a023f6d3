import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/api/deps';
import { effectiveRole } from '../../src/accounts/authorization';
import { issueToken } from '../../src/accounts/tokens';
import { normalizeEmail, type BaseRole } from '../../src/accounts/users';
import { recordLedgerEntry } from '../../src/campaigns/ledger';
import { createPaymentService } from '../../src/payments/paymentService';
import { uniqueEmail } from './context';

/**
 * Fixtures written straight to the database, for tests whose subject is not the route that would make them:
 * accounts without password hashing (a thousand in a second) with real tokens, campaigns with reward tiers,
 * and pledges whose payments are real (made through the payment service on the simulated gateway, as the
 * pledge routes would). Plus reads of the simulated gateway's own records, so money is checked where the
 * provider keeps it, not only in our rows.
 */

// ---------------------------------------------------------------------------------------------- users

export interface UserSpec {
  role?: BaseRole;
  name?: string;
  /** An address listed in OPERATOR_EMAILS makes an operator: fixture accounts are verified addresses. */
  email?: string;
}

export interface TestUser {
  id: string;
  email: string;
  name: string;
  /** The Authorization header value: `Bearer <token>`. */
  auth: string;
}

/** An Authorization header value for a user: a real token, as login would issue it. */
export const bearer = (deps: Pick<AppDeps, 'config'>, userId: string): string => `Bearer ${issueToken(deps.config, userId).token}`;

function userRow(deps: Pick<AppDeps, 'config'>, spec: UserSpec) {
  const baseRole = spec.role ?? 'backer';
  const email = normalizeEmail(spec.email ?? uniqueEmail(baseRole));
  return {
    email,
    name: spec.name ?? `${baseRole} ${email.slice(baseRole.length + 1, baseRole.length + 9)}`,
    // Never a valid argon2 hash: these accounts authenticate only with tokens issued here.
    password_hash: 'fixture-account-without-password',
    role: effectiveRole({ email, baseRole, emailVerified: true, operatorGranted: false }, deps.config.OPERATOR_EMAILS),
    base_role: baseRole,
    email_verified_at: new Date(),
  };
}

async function insertUsers(deps: Pick<AppDeps, 'config' | 'db'>, specs: UserSpec[]): Promise<Array<{ id: string; email: string; name: string }>> {
  const rows = specs.map((spec) => userRow(deps, spec));
  const inserted: Array<{ id: string; email: string; name: string }> = [];
  for (let i = 0; i < rows.length; i += 1000) {
    inserted.push(...((await deps.db('users').insert(rows.slice(i, i + 1000)).returning(['id', 'email', 'name'])) as typeof inserted));
  }
  return inserted;
}

/** One account, with a token. */
export async function makeUser(deps: Pick<AppDeps, 'config' | 'db'>, spec: UserSpec = {}): Promise<TestUser> {
  const [user] = await insertUsers(deps, [spec]);
  return { ...user!, auth: bearer(deps, user!.id) };
}

/** Many accounts in a few inserts; their ids, in order. */
export async function makeUsers(deps: Pick<AppDeps, 'config' | 'db'>, count: number, role: BaseRole = 'backer'): Promise<string[]> {
  return (await insertUsers(deps, Array.from({ length: count }, () => ({ role })))).map((u) => u.id);
}

// ------------------------------------------------------------------------------------------ campaigns

export interface TierSpec {
  title?: string;
  minAmountCents: number;
  /** Absent or null: unlimited. */
  quantity?: number | null;
}

export interface CampaignSpec {
  /** Absent: a new creator owns it. */
  ownerId?: string;
  /** Default live. */
  status?: string;
  title?: string;
  goalCents?: number;
  currency?: string;
  fundingModel?: 'all_or_nothing' | 'flexible';
  /** The deadline, from now (default in an hour; negative for one that has passed). */
  endsInMs?: number;
  /** The start, from now (default a minute ago). */
  startsInMs?: number;
  tiers?: TierSpec[];
  webhookUrl?: string;
  /** With webhookUrl (default whsec_fixture). */
  webhookSecret?: string;
  pledgedCents?: number;
  backerCount?: number;
}

export interface TestCampaign {
  id: string;
  ownerId: string;
  tiers: Array<{ id: string; title: string; minAmountCents: number; quantity: number | null }>;
}

/** A campaign row (launched unless a draft) and its reward tiers, without the campaign routes or a workflow. */
export async function makeCampaign(deps: Pick<AppDeps, 'config' | 'db'>, spec: CampaignSpec = {}): Promise<TestCampaign> {
  const ownerId = spec.ownerId ?? (await makeUsers(deps, 1, 'creator'))[0]!;
  const id = randomUUID();
  const status = spec.status ?? 'live';
  const startsAt = new Date(Date.now() + (spec.startsInMs ?? -60_000));
  await deps.db('campaigns').insert({
    id,
    owner_id: ownerId,
    title: spec.title ?? `Campaign ${id.slice(0, 8)}`,
    description: 'A campaign made by a test fixture',
    category: 'technology',
    goal_cents: spec.goalCents ?? 100_000,
    currency: spec.currency ?? 'USD',
    funding_model: spec.fundingModel ?? 'all_or_nothing',
    status,
    starts_at: startsAt,
    ends_at: new Date(Date.now() + (spec.endsInMs ?? 60 * 60 * 1000)),
    launched_at: status === 'draft' ? null : startsAt,
    pledged_cents: spec.pledgedCents ?? 0,
    backer_count: spec.backerCount ?? 0,
    webhook_url: spec.webhookUrl ?? null,
    webhook_secret: spec.webhookUrl ? (spec.webhookSecret ?? 'whsec_fixture') : null,
  });
  const tiers: TestCampaign['tiers'] = [];
  for (const [position, t] of (spec.tiers ?? []).entries()) {
    const title = t.title ?? `Tier ${position + 1}`;
    const quantity = t.quantity ?? null;
    const [row] = (await deps
      .db('reward_tiers')
      .insert({ campaign_id: id, position, title, min_amount_cents: t.minAmountCents, quantity })
      .returning('id')) as Array<{ id: string }>;
    tiers.push({ id: row!.id, title, minAmountCents: t.minAmountCents, quantity });
  }
  return { id, ownerId, tiers };
}

/** The totals on the campaign row (the truth the live counters cache). */
/**
 * Brings a draft campaign's deadline to `endsInMs` from now, just before the test launches it: the pledges a
 * settlement test needs take longer to make than a short deadline can wait under load, and a draft has no
 * workflow or timer yet that could hold the old deadline.
 */
export async function setDraftDeadline(deps: Pick<AppDeps, 'db'>, campaignId: string, endsInMs: number): Promise<void> {
  const moved = await deps.db('campaigns')
    .where({ id: campaignId, status: 'draft' })
    .update({ ends_at: new Date(Date.now() + endsInMs) });
  if (moved !== 1) throw new Error(`campaign ${campaignId} is not a draft`);
}

export async function campaignTotals(deps: Pick<AppDeps, 'db'>, campaignId: string): Promise<{ pledged_cents: number; backer_count: number }> {
  const row = (await deps.db('campaigns').where({ id: campaignId }).first('pledged_cents', 'backer_count')) as {
    pledged_cents: number;
    backer_count: number;
  };
  return { pledged_cents: row.pledged_cents, backer_count: row.backer_count };
}

// -------------------------------------------------------------------------------------------- pledges

export interface PledgeSpec {
  backerId: string;
  amountCents?: number;
  mode?: 'save_card' | 'authorize';
  paymentMethod?: string;
  /** Claims a slot of this tier. */
  tierId?: string;
  /** Leave the pledge pending (no payment made), as a request interrupted before the provider answered. */
  pending?: boolean;
}

/** An active pledge: card saved (save_card) or funds held (authorize), counted in the campaign's totals. */
export async function makePledge(deps: AppDeps, campaign: { id: string }, spec: PledgeSpec): Promise<string> {
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
    reward_tier_id: spec.tierId ?? null,
    amount_cents: amount,
    currency: 'USD',
    status: 'pending',
    payment_mode: mode,
    payment_method: paymentMethod,
    payment_key: paymentKey,
  });
  if (spec.tierId) await deps.db('reward_tiers').where({ id: spec.tierId }).increment('claimed', 1);
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

/** Many pledges at once, a few payment calls in flight at a time; their ids, in order. */
export async function makePledges(deps: AppDeps, campaign: { id: string }, specs: PledgeSpec[]): Promise<string[]> {
  const ids: string[] = new Array<string>(specs.length);
  for (let i = 0; i < specs.length; i += 10) {
    const chunk = specs.slice(i, i + 10);
    const made = await Promise.all(chunk.map((s) => makePledge(deps, campaign, s)));
    made.forEach((id, j) => (ids[i + j] = id));
  }
  return ids;
}

// ------------------------------------------------------------------------ the simulated gateway's records

export interface GatewayIntent {
  id: string;
  status: string;
  off_session: boolean;
  capture_method: string;
  amount_cents: number;
  captured_cents: number;
  business_key: string;
}

/** The gateway's payment intents for a pledge (its own table, keyed by our business key in metadata). */
export async function gatewayIntents(deps: Pick<AppDeps, 'db'>, pledgeId: string): Promise<GatewayIntent[]> {
  return (await deps.db('sim_payment_intents')
    .whereRaw("metadata->>'business_key' LIKE ?", [`pledge:${pledgeId}:%`])
    .select('id', 'status', 'off_session', 'capture_method', 'amount_cents', 'captured_cents', deps.db.raw("metadata->>'business_key' AS business_key"))) as GatewayIntent[];
}

/** How many payment intents the gateway made for one business key. */
export async function gatewayIntentCount(deps: Pick<AppDeps, 'db'>, businessKey: string): Promise<number> {
  const [row] = await deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [businessKey]).count<{ count: string }[]>('* as count');
  return Number(row!.count);
}

/** Money the gateway actually took for each pledge: sum of captured_cents over its intents. */
export async function takenByPledge(deps: Pick<AppDeps, 'db'>, pledgeIds: string[]): Promise<Map<string, { intents: number; charged: number; capturedCents: number }>> {
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
