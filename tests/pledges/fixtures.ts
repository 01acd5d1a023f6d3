import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/api/deps';
import { effectiveRole } from '../../src/accounts/authorization';
import { issueToken } from '../../src/accounts/tokens';
import { createUser, type BaseRole } from '../../src/accounts/users';
import { uniqueEmail } from '../helpers/context';

/**
 * Pledge-test fixtures written straight to the database: accounts without password hashing (200 backers in
 * a second) and live campaigns without depending on the campaign routes, which are tested on their own.
 */

export interface TestUser {
  id: string;
  email: string;
  name: string;
  auth: string;
}

export async function makeUser(deps: AppDeps, opts: { role?: BaseRole; name?: string; email?: string } = {}): Promise<TestUser> {
  const email = opts.email ?? uniqueEmail(opts.role ?? 'backer');
  const baseRole = opts.role ?? 'backer';
  const user = await createUser(deps.db, {
    email,
    name: opts.name ?? `User ${email.slice(0, 12)}`,
    // Never a valid argon2 hash: these accounts log in only through the token issued here.
    passwordHash: 'fixture-account-without-password',
    role: effectiveRole(email, baseRole, deps.config.OPERATOR_EMAILS),
    baseRole,
  });
  return { id: user.id, email: user.email, name: user.name, auth: `Bearer ${issueToken(deps.config, user.id).token}` };
}

export interface TierSpec {
  title?: string;
  minAmountCents: number;
  quantity?: number;
}

export interface TestCampaign {
  id: string;
  tiers: Array<{ id: string; title: string; minAmountCents: number; quantity: number | null }>;
}

export async function makeCampaign(
  deps: AppDeps,
  ownerId: string,
  opts: {
    goalCents?: number;
    endsInMs?: number;
    fundingModel?: 'all_or_nothing' | 'flexible';
    status?: string;
    currency?: string;
    title?: string;
    tiers?: TierSpec[];
    webhookUrl?: string;
  } = {},
): Promise<TestCampaign> {
  const id = randomUUID();
  const endsAt = new Date(Date.now() + (opts.endsInMs ?? 60 * 60 * 1000));
  await deps.db('campaigns').insert({
    id,
    owner_id: ownerId,
    title: opts.title ?? `Campaign ${id.slice(0, 8)}`,
    description: 'A campaign made by a pledge test',
    category: 'technology',
    goal_cents: opts.goalCents ?? 100_000,
    currency: opts.currency ?? 'USD',
    funding_model: opts.fundingModel ?? 'all_or_nothing',
    status: opts.status ?? 'live',
    starts_at: new Date(Date.now() - 60_000),
    ends_at: endsAt,
    launched_at: new Date(Date.now() - 60_000),
    webhook_url: opts.webhookUrl ?? null,
    webhook_secret: opts.webhookUrl ? 'whsec_fixture' : null,
  });
  const tiers: TestCampaign['tiers'] = [];
  for (const [position, t] of (opts.tiers ?? []).entries()) {
    const title = t.title ?? `Tier ${position + 1}`;
    const [row] = (await deps
      .db('reward_tiers')
      .insert({ campaign_id: id, position, title, min_amount_cents: t.minAmountCents, quantity: t.quantity ?? null })
      .returning('id')) as Array<{ id: string }>;
    tiers.push({ id: row!.id, title, minAmountCents: t.minAmountCents, quantity: t.quantity ?? null });
  }
  return { id, tiers };
}

export async function campaignTotals(deps: AppDeps, campaignId: string): Promise<{ pledged_cents: number; backer_count: number }> {
  const row = (await deps.db('campaigns').where({ id: campaignId }).first('pledged_cents', 'backer_count')) as {
    pledged_cents: number;
    backer_count: number;
  };
  return { pledged_cents: row.pledged_cents, backer_count: row.backer_count };
}

export async function claimed(deps: AppDeps, tierId: string): Promise<number> {
  const row = (await deps.db('reward_tiers').where({ id: tierId }).first('claimed')) as { claimed: number };
  return row.claimed;
}

export async function paymentRow(deps: AppDeps, businessKey: string): Promise<{ status: string; kind: string; amount_cents: number; provider_payment_id: string | null } | undefined> {
  return deps.db('payments').where({ business_key: businessKey }).first('status', 'kind', 'amount_cents', 'provider_payment_id');
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, status: number, code: string): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

export async function countRows(deps: AppDeps, table: string, where: (q: import('knex').Knex.QueryBuilder) => import('knex').Knex.QueryBuilder): Promise<number> {
  const [row] = (await where(deps.db(table)).count('* as count')) as Array<{ count: number | string }>;
  return Number(row!.count);
}
