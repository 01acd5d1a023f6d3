import type { Config } from '../config';
import type { Db } from '../infra/db';
import { sendAccountEmail } from '../notifications/accountEmail';
import { forgetAccountFacts } from './accountFacts';
import { mailAccountLink } from './accountLinks';
import { readAccountToken, redeemAccountToken, spendOpenTokens } from './accountTokens';
import { markVerified } from './emailVerification';
import { hashPassword } from './passwords';
import { revokeEverything } from './sessions';
import { findUserByEmail } from './users';

/**
 * Password reset by email. Asking never says whether the address has an account (the route answers 202
 * either way); the link is signed, expires after PASSWORD_RESET_TTL and works once. Setting the new password
 * ends every session and refuses every access token issued before it, spends the account's other reset links,
 * and tells the address that the password changed.
 */
type ResetConfig = Pick<Config, 'JWT_SECRET' | 'APP_BASE_URL' | 'EMAIL_VERIFICATION_TTL' | 'PASSWORD_RESET_TTL' | 'OPERATOR_EMAILS'>;

/** Queues a reset link when `email` has an account; does nothing (visibly the same) when it has none. */
export async function requestPasswordReset(db: Db, config: ResetConfig, email: string): Promise<void> {
  const user = await findUserByEmail(db, email);
  if (!user) return;
  await db.transaction((trx) => mailAccountLink(trx, config, 'reset_password', user));
}

/** Sets the new password named by a reset link; returns the account's id. */
export async function resetPassword(db: Db, config: ResetConfig, token: string, newPassword: string): Promise<string> {
  const claims = readAccountToken(config, 'reset_password', token);
  // Hashed before the transaction: argon2 takes tens of ms, no pooled connection should wait on it.
  const passwordHash = await hashPassword(newPassword);
  await db.transaction(async (trx) => {
    await redeemAccountToken(trx, 'reset_password', claims);
    await trx('users').where({ id: claims.userId }).update({ password_hash: passwordHash, updated_at: trx.fn.now() });
    await spendOpenTokens(trx, claims.userId, 'reset_password');
    await revokeEverything(trx, claims.userId, 'password_reset');
    // The link reached the mailbox, which is what verification proves.
    await markVerified(trx, config, claims.userId, claims.email);
    await sendAccountEmail(trx, { userId: claims.userId, to: claims.email, kind: 'password_changed', dedupeKey: `password_changed:${claims.jti}` });
  });
  forgetAccountFacts(claims.userId);
  return claims.userId;
}
