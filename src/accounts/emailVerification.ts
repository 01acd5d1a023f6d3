import type { Knex } from 'knex';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import { forgetAccountFacts } from './accountFacts';
import { mailAccountLink } from './accountLinks';
import { readAccountToken, redeemAccountToken } from './accountTokens';
import { effectiveRole } from './authorization';
import { findUserById, type User } from './users';

/**
 * Address verification: a signed, expiring, single-use link mailed to the address. Following it proves the
 * mailbox is the account holder's, and only then does an OPERATOR_EMAILS address make an operator.
 */
type VerificationConfig = Pick<Config, 'JWT_SECRET' | 'APP_BASE_URL' | 'EMAIL_VERIFICATION_TTL' | 'PASSWORD_RESET_TTL' | 'OPERATOR_EMAILS'>;

/** Records a verification token and queues its mail in `db` (the caller's transaction, at registration). */
export function sendVerificationEmail(db: Db | Knex.Transaction, config: VerificationConfig, user: { id: string; email: string }): Promise<void> {
  return mailAccountLink(db, config, 'verify_email', user);
}

/** A new link for an account not verified yet: 409 `email_already_verified` otherwise. */
export async function resendVerificationEmail(db: Db, config: VerificationConfig, userId: string): Promise<void> {
  const user = await findUserById(db, userId);
  if (!user) throw refusals.unauthenticated('The account behind this token no longer exists.');
  if (user.emailVerifiedAt) throw refusals.conflict('email_already_verified', 'This address is already verified.');
  await db.transaction((trx) => sendVerificationEmail(trx, config, user));
}

/** Follows a verification link: the address is verified (once), and the role follows from it. */
export async function verifyEmail(db: Db, config: VerificationConfig, token: string): Promise<User> {
  const claims = readAccountToken(config, 'verify_email', token);
  await db.transaction(async (trx) => {
    await redeemAccountToken(trx, 'verify_email', claims);
    const changed = await markVerified(trx, config, claims.userId, claims.email);
    // The link was for an address the account no longer has: it proves nothing about the current one.
    if (!changed) throw refusals.conflict('token_used', 'This link is for an address this account no longer uses.');
  });
  forgetAccountFacts(claims.userId);
  const user = await findUserById(db, claims.userId);
  if (!user) throw refusals.notFound('account');
  return user;
}

/**
 * Marks `email` verified for the account when it is still the account's address, and stores the role that
 * follows (an OPERATOR_EMAILS address is promoted here, never at registration). False when the address differs.
 * The caller forgets the account's cached facts after committing.
 */
export async function markVerified(trx: Knex.Transaction, config: Pick<Config, 'OPERATOR_EMAILS'>, userId: string, email: string): Promise<boolean> {
  const row = (await trx('users').where({ id: userId, email }).forUpdate().first('email', 'base_role', 'operator_granted_at')) as
    | { email: string; base_role: User['baseRole']; operator_granted_at: Date | null }
    | undefined;
  if (!row) return false;
  const role = effectiveRole({ email: row.email, baseRole: row.base_role, emailVerified: true, operatorGranted: row.operator_granted_at !== null }, config.OPERATOR_EMAILS);
  await trx('users')
    .where({ id: userId })
    .update({ email_verified_at: trx.raw('coalesce(email_verified_at, now())'), role, updated_at: trx.fn.now() });
  return true;
}
