import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import { notify } from '../notifications/notify';
import type { ProviderStatus } from './contract';
import { loadProvider, type ProviderRow } from './rows';

/**
 * The steps of a provider's onboarding (`provider:<id>`, src/workflows/bookings/providerOnboarding.ts) as
 * row changes. Each is one transaction under the provider's row lock, conditional on the status it leaves
 * (pending for a decision or an expiry), and tells the provider in that same transaction with a dedupe key:
 * a retried activity changes and notifies nothing twice, and returns where the row now is.
 */

export interface OnboardingPosition {
  status: ProviderStatus;
  payoutReady: boolean;
}

const position = (row: Pick<ProviderRow, 'status' | 'payout_status'>): OnboardingPosition => ({ status: row.status, payoutReady: row.payout_status === 'ready' });

/** What the provider still has to wait for or do, for reminders and the workflow's details. */
export function missingSteps(p: OnboardingPosition): Array<'operator_review' | 'payout_details'> {
  return [...(p.status === 'pending' ? (['operator_review'] as const) : []), ...(p.payoutReady ? [] : (['payout_details'] as const))];
}

async function changeIfPending(
  db: Db,
  providerId: string,
  change: (trx: Knex.Transaction, row: ProviderRow) => Promise<Partial<ProviderRow>>,
): Promise<OnboardingPosition> {
  return db.transaction(async (trx) => {
    const row = await loadProvider(trx, providerId, { forUpdate: true });
    if (!row) throw new Error(`provider ${providerId} not found`);
    if (row.status !== 'pending') return position(row);
    const changes = await change(trx, row);
    await trx('providers').where({ id: row.id }).update({ ...changes, updated_at: trx.fn.now() });
    return position({ ...row, ...changes });
  });
}

/** The operator approved: active (searchable and bookable) at once; payouts wait for the payout details. */
export function approveProvider(db: Db, input: { providerId: string; operatorId: string }): Promise<OnboardingPosition> {
  return changeIfPending(db, input.providerId, async (trx, row) => {
    const payoutReady = row.payout_status === 'ready';
    await notify(trx, {
      userId: row.user_id,
      type: 'provider_approved',
      title: 'Your provider profile is approved',
      body: payoutReady
        ? 'Customers can now find and book your services.'
        : 'Customers can now find and book your services. Add your payout details to receive the money you earn.',
      data: { provider_id: row.id, payout_ready: payoutReady },
      dedupeKey: `provider_approved:${row.id}`,
    });
    return { status: 'active', approved_at: new Date() };
  });
}

export function rejectProvider(db: Db, input: { providerId: string; operatorId: string; reason?: string }): Promise<OnboardingPosition> {
  return changeIfPending(db, input.providerId, async (trx, row) => {
    await notify(trx, {
      userId: row.user_id,
      type: 'provider_rejected',
      title: 'Your provider profile was not approved',
      body: input.reason ? `Reason: ${input.reason}` : 'An operator reviewed your profile and did not approve it.',
      data: { provider_id: row.id, ...(input.reason ? { reason: input.reason } : {}) },
      dedupeKey: `provider_rejected:${row.id}`,
    });
    return { status: 'rejected', rejection_reason: input.reason ?? null };
  });
}

/** No decision within PROVIDER_ONBOARDING_EXPIRY: the onboarding is over (a new account would have to start again). */
export function expireProvider(db: Db, input: { providerId: string }): Promise<OnboardingPosition> {
  return changeIfPending(db, input.providerId, async (trx, row) => {
    await notify(trx, {
      userId: row.user_id,
      type: 'provider_onboarding_expired',
      title: 'Your provider onboarding expired',
      body: 'Your onboarding was not completed in time.',
      data: { provider_id: row.id },
      dedupeKey: `provider_onboarding_expired:${row.id}`,
    });
    return { status: 'expired' };
  });
}

/** One reminder naming what is still missing; nothing when nothing is (the onboarding moved on meanwhile). */
export async function remindProvider(db: Db, input: { providerId: string }): Promise<OnboardingPosition & { reminded: boolean }> {
  const row = await loadProvider(db, input.providerId);
  if (!row) throw new Error(`provider ${input.providerId} not found`);
  const now = position(row);
  const missing = missingSteps(now);
  if (row.status === 'rejected' || row.status === 'expired' || missing.length === 0) return { ...now, reminded: false };
  await notify(db, {
    userId: row.user_id,
    type: 'provider_onboarding_reminder',
    title: 'Finish your provider onboarding',
    body: missing.includes('payout_details')
      ? 'Add your payout details so you can be paid for your bookings.'
      : 'Your profile is waiting for an operator review; nothing else is needed from you.',
    data: { provider_id: row.id, missing },
    dedupeKey: `provider_onboarding_reminder:${row.id}`,
  });
  return { ...now, reminded: true };
}

/** The payout account answered ready (through payoutDetailsReadySignal). Never undone by a later, staler report. */
export async function recordPayoutReady(db: Db, input: { providerId: string; accountId: string }): Promise<OnboardingPosition> {
  const [row] = (await db('providers')
    .where({ id: input.providerId })
    .update({ payout_account_id: input.accountId, payout_status: 'ready', updated_at: db.fn.now() })
    .returning(['status', 'payout_status'])) as Array<Pick<ProviderRow, 'status' | 'payout_status'>>;
  if (!row) throw new Error(`provider ${input.providerId} not found`);
  return position(row);
}

/** Where the onboarding is, for the workflow's first step; undefined while the row is not (yet) committed. */
export async function onboardingPosition(db: Db, providerId: string): Promise<OnboardingPosition | undefined> {
  const row = await loadProvider(db, providerId);
  return row ? position(row) : undefined;
}
