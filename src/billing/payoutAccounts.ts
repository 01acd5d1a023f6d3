import type { Knex } from 'knex';
import { payoutAccountReported, setUpPayoutAccount } from '../bookings/providerPayouts';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { ServiceDeps } from '../infra/serviceDeps';
import { PaymentRequestError, type ConnectedAccountResult } from '../payments/gateway';
import { PAYOUT_ACCOUNT_REFUSED, type PayoutAccountStatus } from './contract';

/**
 * Where a seller is paid out to: a connected account at the payment provider (Stripe Connect Express; the hosted
 * onboarding collects identity and bank details). A provider already has one on its provider row
 * (src/bookings/providerPayouts.ts): that one is theirs, and setting it up goes through the provider's own path.
 * Creators and merchants get theirs here, in seller_payout_accounts, created under the business key
 * `seller:<user id>:payout-account` (racing or retried calls get the one account). A pending account is asked
 * again for its readiness (and a fresh onboarding link) whenever the seller comes back; the provider's webhook
 * (`account.updated`) records it too.
 */

export interface PayoutAccountJson {
  status: PayoutAccountStatus;
  account_id?: string;
  onboarding_url?: string;
}

export interface SellerPayoutAccount {
  accountId: string;
  status: 'pending' | 'ready';
}

type Q = Knex | Knex.Transaction;

const providerRowOf = (db: Q, userId: string) =>
  db('providers').where({ user_id: userId }).first('id', 'payout_account_id', 'payout_status') as Promise<
    { id: string; payout_account_id: string | null; payout_status: 'missing' | 'pending' | 'ready' } | undefined
  >;

/** The account a seller's payouts go to (a ready one first), or undefined when they have none yet. */
export async function payoutAccountOf(db: Q, userId: string): Promise<SellerPayoutAccount | undefined> {
  const own = (await db('seller_payout_accounts').where({ user_id: userId }).first('account_id', 'status')) as { account_id: string; status: 'pending' | 'ready' } | undefined;
  const provider = await providerRowOf(db, userId);
  const candidates: SellerPayoutAccount[] = [
    ...(own ? [{ accountId: own.account_id, status: own.status }] : []),
    ...(provider?.payout_account_id ? [{ accountId: provider.payout_account_id, status: provider.payout_status === 'ready' ? ('ready' as const) : ('pending' as const) }] : []),
  ];
  return candidates.find((c) => c.status === 'ready') ?? candidates[0];
}

const json = (account: Pick<ConnectedAccountResult, 'id' | 'status' | 'onboardingUrl'>): PayoutAccountJson => ({
  status: account.status,
  account_id: account.id,
  ...(account.onboardingUrl ? { onboarding_url: account.onboardingUrl } : {}),
});

function onboardingLink(deps: Pick<ServiceDeps, 'config'>) {
  const base = deps.config.APP_BASE_URL.replace(/\/$/, '');
  return { returnUrl: `${base}/payouts?done=1`, refreshUrl: `${base}/payouts` };
}

/** Never from ready back to pending (a stale answer), never onto another account than the one recorded. */
async function recordSellerAccount(db: Q, userId: string, account: Pick<ConnectedAccountResult, 'id' | 'status'>): Promise<void> {
  await db('seller_payout_accounts')
    .where({ user_id: userId, account_id: account.id })
    .update({ status: db.raw(`CASE WHEN status = 'ready' THEN 'ready' ELSE ? END`, [account.status]), updated_at: db.fn.now() });
}

async function gatewayCall<T>(deps: Pick<ServiceDeps, 'logger'>, userId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PaymentRequestError) throw refusals.unprocessable(PAYOUT_ACCOUNT_REFUSED, `The payment provider refused the payout account: ${err.message}`);
    deps.logger.warn({ err, userId }, 'payout account call failed');
    throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.', 5);
  }
}

/**
 * POST /v1/me/payout-account: starts the seller's onboarding, or resumes it (a fresh link while pending). A
 * provider's goes through its provider row. `created` says whether the account was made by this call.
 */
export async function startPayoutAccount(deps: ServiceDeps, caller: Principal, input: { country?: string }): Promise<{ created: boolean; account: PayoutAccountJson }> {
  const provider = await providerRowOf(deps.db, caller.id);
  if (provider) {
    const had = Boolean(provider.payout_account_id);
    const account = await setUpPayoutAccount(deps, caller, provider.id);
    return { created: !had, account: { status: account.status, account_id: account.account_id, ...(account.onboarding_url ? { onboarding_url: account.onboarding_url } : {}) } };
  }
  const link = onboardingLink(deps);
  const existing = (await deps.db('seller_payout_accounts').where({ user_id: caller.id }).first('account_id')) as { account_id: string } | undefined;
  if (existing) {
    const account = await gatewayCall(deps, caller.id, () => deps.payments.retrieveConnectedAccount(existing.account_id, { onboardingLink: link }));
    await recordSellerAccount(deps.db, caller.id, account);
    return { created: false, account: json(account) };
  }
  if (!input.country) throw refusals.invalid([{ path: 'body.country', message: 'The country (ISO 3166-1 alpha-2) is required to open a payout account.' }]);
  const country = input.country;
  const account = await gatewayCall(deps, caller.id, () =>
    deps.payments.createConnectedAccount({ idempotencyKey: `seller:${caller.id.toLowerCase()}:payout-account`, ownerRef: caller.id, email: caller.email, country, ...link }),
  );
  // The same key answers the same account, so a racing request records the same row.
  await deps.db.raw(
    `INSERT INTO seller_payout_accounts (user_id, account_id, status, country) VALUES (?, ?, ?, ?)
     ON CONFLICT (user_id) DO UPDATE SET status = CASE WHEN seller_payout_accounts.status = 'ready' THEN 'ready' ELSE EXCLUDED.status END, updated_at = now()
     WHERE seller_payout_accounts.account_id = EXCLUDED.account_id`,
    [caller.id, account.id, account.status, country],
  );
  return { created: true, account: json(account) };
}

/** GET /v1/me/payout-account: the account and its readiness now (a pending one is asked again, without a link). */
export async function payoutAccountFor(deps: ServiceDeps, caller: Principal): Promise<PayoutAccountJson> {
  const account = await payoutAccountOf(deps.db, caller.id);
  if (!account) return { status: 'missing' };
  if (account.status === 'ready') return { status: 'ready', account_id: account.accountId };
  const now = await gatewayCall(deps, caller.id, () => deps.payments.retrieveConnectedAccount(account.accountId));
  if (!(await sellerPayoutAccountReported(deps, now))) await payoutAccountReported(deps, now);
  return json(now);
}

/**
 * The payment provider reported a connected account's state (webhook `account.updated`, or a look on the seller's
 * behalf): recorded when it is a creator's or merchant's account. Returns whether it is one.
 */
export async function sellerPayoutAccountReported(deps: Pick<ServiceDeps, 'db'>, account: Pick<ConnectedAccountResult, 'id' | 'status'>): Promise<boolean> {
  const owner = (await deps.db('seller_payout_accounts').where({ account_id: account.id }).first('user_id')) as { user_id: string } | undefined;
  if (!owner) return false;
  await recordSellerAccount(deps.db, owner.user_id, account);
  return true;
}
