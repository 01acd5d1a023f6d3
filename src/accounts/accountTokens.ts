import { createHmac, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { DomainError, refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import { hmacKey, TOKEN_ISSUER } from './tokens';

/**
 * The tokens in emailed links (verify an address, reset a password): signed JWTs that expire, each with a jti
 * recorded in `account_tokens` when issued and marked used when redeemed, so a link works once. Each purpose
 * signs with its own key derived from JWT_SECRET, so neither an access token nor the other purpose's token
 * is ever accepted in its place.
 */
export type AccountTokenPurpose = 'verify_email' | 'reset_password';

type TokenConfig = Pick<Config, 'JWT_SECRET'>;

const keyFor = (config: TokenConfig, purpose: AccountTokenPurpose) =>
  hmacKey(createHmac('sha256', config.JWT_SECRET).update(`account-token/${purpose}/v1`).digest());

export interface AccountTokenClaims {
  jti: string;
  userId: string;
  /** The address the link was sent to. */
  email: string;
}

export interface IssuedAccountToken {
  id: string;
  token: string;
  expiresAt: Date;
}

export async function issueAccountToken(
  db: Db | Knex.Transaction,
  config: TokenConfig,
  purpose: AccountTokenPurpose,
  user: { id: string; email: string },
  ttlMs: number,
): Promise<IssuedAccountToken> {
  const jti = randomUUID();
  const expiresAt = new Date(Date.now() + ttlMs);
  await db('account_tokens').insert({ id: jti, user_id: user.id, purpose, email: user.email, expires_at: expiresAt });
  const token = jwt.sign({ email: user.email, exp: Math.floor(expiresAt.getTime() / 1000) }, keyFor(config, purpose), {
    algorithm: 'HS256',
    issuer: TOKEN_ISSUER,
    audience: purpose,
    subject: user.id,
    jwtid: jti,
  });
  return { id: jti, token, expiresAt };
}

/**
 * Checks the signature, purpose and expiry, without the database (so a forged token costs nothing further).
 * 400 `invalid_token` (altered, cut short, another purpose's, not ours), 410 `token_expired`.
 */
export function readAccountToken(config: TokenConfig, purpose: AccountTokenPurpose, token: string): AccountTokenClaims {
  let payload: jwt.JwtPayload | string;
  try {
    payload = jwt.verify(token, keyFor(config, purpose), { algorithms: ['HS256'], issuer: TOKEN_ISSUER, audience: purpose });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw refusals.gone('token_expired', 'This link has expired; ask for a new one.');
    throw invalidToken();
  }
  if (typeof payload === 'string' || typeof payload.jti !== 'string' || typeof payload.sub !== 'string' || typeof payload.email !== 'string') {
    throw invalidToken();
  }
  return { jti: payload.jti, userId: payload.sub, email: payload.email };
}

/**
 * Marks the token used, inside `trx` so that what it allows (the new password, the verification) commits
 * together with its use: 409 `token_used` when it was used (or spent by a newer reset) before.
 */
export async function redeemAccountToken(trx: Knex.Transaction, purpose: AccountTokenPurpose, claims: AccountTokenClaims): Promise<void> {
  const used = await trx('account_tokens')
    .where({ id: claims.jti, user_id: claims.userId, purpose })
    .whereNull('used_at')
    .update({ used_at: trx.fn.now() }, ['id']);
  if (used.length > 0) return;
  const known = await trx('account_tokens').where({ id: claims.jti, purpose }).first('id');
  if (!known) throw invalidToken();
  throw refusals.conflict('token_used', 'This link was already used (or replaced by a newer one); ask for a new one if you need it.');
}

/** Every open token of this purpose for the user becomes used: a reset spends the other reset links too. */
export async function spendOpenTokens(db: Db | Knex.Transaction, userId: string, purpose: AccountTokenPurpose): Promise<void> {
  await db('account_tokens').where({ user_id: userId, purpose }).whereNull('used_at').update({ used_at: db.fn.now() });
}

const invalidToken = () => new DomainError('invalid', 'invalid_token', 'This link is not valid (it may have been altered or cut short).');
