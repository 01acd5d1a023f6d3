import { WorkflowNotFoundError } from '@temporalio/client';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { PaymentRequestError, type ConnectedAccountResult } from '../payments/gateway';
import { payoutDetailsReadySignal, providerWorkflowId } from './contract';
import { managedProvider } from './providers';
import type { BookingsDeps } from './deps';

/**
 * A provider's payout details: a connected account at the payment provider (PaymentGateway port; Stripe Connect
 * Express, whose hosted onboarding collects identity and bank details). The first call creates it under the
 * business key `provider:<id>:payout-account`, so racing or retried calls get the one account; later calls
 * read its readiness (the provider comes back from the hosted onboarding and the web app asks again) with a
 * fresh onboarding link while it is pending. Once the gateway says ready, the row says so and the onboarding
 * workflow is told (payoutDetailsReadySignal), which records it too and may finish the onboarding.
 */

export interface PayoutAccountJson {
  account_id: string;
  status: ConnectedAccountResult['status'];
  onboarding_url?: string;
}

export async function setUpPayoutAccount(deps: Pick<BookingsDeps, 'db' | 'config' | 'temporal' | 'payments' | 'logger'>, caller: Principal, providerId: string): Promise<PayoutAccountJson> {
  const { db, config } = deps;
  const row = await managedProvider(db, providerId, caller);
  if (row.status === 'rejected' || row.status === 'expired') {
    throw refusals.conflict('onboarding_closed', `The provider's onboarding is ${row.status}; payout details can no longer be added.`);
  }
  const base = config.APP_BASE_URL.replace(/\/$/, '');
  const link = { returnUrl: `${base}/provider/payouts?done=1`, refreshUrl: `${base}/provider/payouts` };
  const owner = (await db('users').where({ id: row.user_id }).first('email')) as { email: string };
  let account: ConnectedAccountResult;
  try {
    account = row.payout_account_id
      ? await deps.payments.retrieveConnectedAccount(row.payout_account_id, { onboardingLink: link })
      : await deps.payments.createConnectedAccount({ idempotencyKey: `provider:${row.id}:payout-account`, ownerRef: row.id, email: owner.email, country: row.country, ...link });
  } catch (err) {
    if (err instanceof PaymentRequestError) throw refusals.unprocessable('payout_account_refused', `The payment provider refused the payout account: ${err.message}`);
    deps.logger.warn({ err, providerId: row.id }, 'payout account call failed');
    throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.', 5);
  }
  await recordPayoutAccount(deps, row.id, account);
  return { account_id: account.id, status: account.status, ...(account.onboardingUrl ? { onboarding_url: account.onboardingUrl } : {}) };
}

/**
 * Records what the gateway said of a provider's account and, once it is ready, tells the onboarding workflow.
 * Never from ready back to pending (a stale answer), never onto another account than the one recorded.
 */
async function recordPayoutAccount(deps: Pick<BookingsDeps, 'db' | 'config' | 'temporal'>, providerId: string, account: Pick<ConnectedAccountResult, 'id' | 'status'>): Promise<void> {
  const { db, config } = deps;
  await db('providers')
    .where({ id: providerId })
    .where((q) => q.whereNull('payout_account_id').orWhere('payout_account_id', account.id))
    .update({
      payout_account_id: account.id,
      payout_status: db.raw(`CASE WHEN payout_status = 'ready' THEN 'ready' ELSE ? END`, [account.status]),
      updated_at: db.fn.now(),
    });
  if (account.status !== 'ready') return;
  try {
    await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
      client.workflow.getHandle(providerWorkflowId(providerId)).signal(payoutDetailsReadySignal, { accountId: account.id }),
    );
  } catch (err) {
    // An onboarding already finished has nothing left to wait for; the row already says ready.
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/**
 * The payment provider reported a connected account's state (Stripe's `account.updated` webhook, mapped with
 * connectedAccountStatus): the provider whose account it is learns it without coming back to the app.
 * Returns whether the account is one of ours.
 */
export async function payoutAccountReported(deps: Pick<BookingsDeps, 'db' | 'config' | 'temporal'>, account: Pick<ConnectedAccountResult, 'id' | 'status'>): Promise<boolean> {
  const owner = (await deps.db('providers').where({ payout_account_id: account.id }).first('id')) as { id: string } | undefined;
  if (!owner) return false;
  await recordPayoutAccount(deps, owner.id, account);
  return true;
}
