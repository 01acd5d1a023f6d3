import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import { forgetAccountFacts } from './accountFacts';

/**
 * Sessions are refresh-token families. A login starts one; each refresh replaces its token with a new one
 * (rotation) and keeps the old row marked `replaced_at`. Presenting a replaced token again means two parties
 * hold the family (a stolen token, or the thief's copy used first), so the whole family ends: the standard
 * theft detection of OAuth 2.0 Security BCP §4.14. Refresh tokens are opaque and stored only as SHA-256.
 */
export type SessionEndReason = 'logout' | 'logout_everywhere' | 'password_reset' | 'refresh_token_reused';

export interface IssuedRefreshToken {
  sessionId: string;
  refreshToken: string;
  refreshExpiresAt: Date;
}

type SessionConfig = Pick<Config, 'REFRESH_TOKEN_TTL'>;

const hashOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
const newToken = (): string => randomBytes(32).toString('base64url');
/** Opaque tokens are 43 base64url characters; anything else is not one of ours and needs no lookup. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

async function insertRefreshToken(db: Db | Knex.Transaction, config: SessionConfig, sessionId: string): Promise<IssuedRefreshToken> {
  const refreshToken = newToken();
  const refreshExpiresAt = new Date(Date.now() + config.REFRESH_TOKEN_TTL);
  await db('refresh_tokens').insert({ token_hash: hashOf(refreshToken), session_id: sessionId, expires_at: refreshExpiresAt });
  return { sessionId, refreshToken, refreshExpiresAt };
}

/** A new session (login, registration) with its first refresh token. */
export async function startSession(db: Db, config: SessionConfig, userId: string): Promise<IssuedRefreshToken> {
  return db.transaction(async (trx) => {
    const [session] = (await trx('auth_sessions').insert({ user_id: userId }).returning('id')) as Array<{ id: string }>;
    return insertRefreshToken(trx, config, session!.id);
  });
}

const invalidRefresh = (detail = 'The refresh token is not valid; log in again.') => refusals.unauthenticated(detail);

/**
 * Exchanges a refresh token for a new one in the same session. 401 for an unknown, expired or ended one; for a
 * token already rotated, the session ends first (reuse detection) and the answer is 401 as well.
 */
export async function rotateRefreshToken(db: Db, config: SessionConfig, refreshToken: string): Promise<IssuedRefreshToken & { userId: string }> {
  if (!TOKEN_SHAPE.test(refreshToken)) throw invalidRefresh();
  const outcome = await db.transaction(async (trx) => {
    // Locking the token row serialises concurrent refreshes with it: the later one re-reads it and finds it
    // replaced (a lock on the session alone would re-read only the session, and let both through).
    const row = (await trx('refresh_tokens as t')
      .join('auth_sessions as s', 's.id', 't.session_id')
      .where('t.token_hash', hashOf(refreshToken))
      .forUpdate('t', 's')
      .first('t.session_id', 't.expires_at', 't.replaced_at', 's.user_id', 's.revoked_at')) as
      | { session_id: string; expires_at: Date; replaced_at: Date | null; user_id: string; revoked_at: Date | null }
      | undefined;
    if (!row || row.revoked_at) return { kind: 'invalid' as const };
    if (row.replaced_at) {
      await endSessions(trx, { sessionId: row.session_id }, 'refresh_token_reused');
      return { kind: 'reused' as const, userId: row.user_id };
    }
    if (row.expires_at.getTime() <= Date.now()) return { kind: 'expired' as const };
    await trx('refresh_tokens').where({ token_hash: hashOf(refreshToken) }).update({ replaced_at: trx.fn.now() });
    await trx('auth_sessions').where({ id: row.session_id }).update({ last_used_at: trx.fn.now() });
    return { kind: 'rotated' as const, userId: row.user_id, issued: await insertRefreshToken(trx, config, row.session_id) };
  });
  switch (outcome.kind) {
    case 'rotated':
      return { ...outcome.issued, userId: outcome.userId };
    case 'reused':
      forgetAccountFacts(outcome.userId);
      throw invalidRefresh('This refresh token was already used; the session has been ended for safety. Log in again.');
    case 'expired':
      throw invalidRefresh('The refresh token has expired; log in again.');
    default:
      throw invalidRefresh();
  }
}

/** Ends live sessions: one of them, or all of a user's. Returns how many ended. */
export async function endSessions(
  db: Db | Knex.Transaction,
  which: { sessionId: string } | { userId: string },
  reason: SessionEndReason,
): Promise<number> {
  const where = 'sessionId' in which ? { id: which.sessionId } : { user_id: which.userId };
  return db('auth_sessions').where(where).whereNull('revoked_at').update({ revoked_at: db.fn.now(), revoked_reason: reason });
}

/**
 * Sign out everywhere: every session ends and every access token issued until now is refused. `at` comes from
 * this process's clock, the one that stamps access tokens, so a login right after is not caught by skew.
 */
export async function revokeEverything(db: Db | Knex.Transaction, userId: string, reason: SessionEndReason, at = new Date()): Promise<void> {
  await db('users').where({ id: userId }).update({ tokens_valid_after: at, updated_at: db.fn.now() });
  await endSessions(db, { userId }, reason);
}
