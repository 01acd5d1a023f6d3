import type { Db } from '../infra/db';

/**
 * Deletes what sign-in leaves behind once it can no longer matter, in batches (no long locks): refresh tokens
 * past their expiry, emailed links (verification, reset) a day past theirs, and sessions that ended (revoked, or
 * with no refresh token left) more than a day ago — longer than any access token of the session lives
 * (TOKEN_TTL_SECONDS), which is why revoked sessions are kept that long at all.
 */
export async function purgeEndedSessions(db: Db, batchSize = 5_000): Promise<{ refreshTokens: number; linkTokens: number; sessions: number }> {
  const inBatches = async (sql: string): Promise<number> => {
    let total = 0;
    for (;;) {
      const { rowCount } = await db.raw<{ rowCount: number }>(sql, [batchSize]);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batchSize) return total;
    }
  };
  const refreshTokens = await inBatches(
    `DELETE FROM refresh_tokens t USING (SELECT token_hash FROM refresh_tokens WHERE expires_at <= now() LIMIT ? FOR UPDATE SKIP LOCKED) doomed
      WHERE t.token_hash = doomed.token_hash`,
  );
  const linkTokens = await inBatches(
    `DELETE FROM account_tokens t USING (SELECT id FROM account_tokens WHERE expires_at <= now() - interval '1 day' LIMIT ? FOR UPDATE SKIP LOCKED) doomed
      WHERE t.id = doomed.id`,
  );
  const sessions = await inBatches(
    `DELETE FROM auth_sessions s USING (
       SELECT id FROM auth_sessions a
        WHERE (a.revoked_at IS NOT NULL AND a.revoked_at <= now() - interval '1 day')
           OR (a.revoked_at IS NULL AND a.last_used_at <= now() - interval '1 day'
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = a.id))
        LIMIT ? FOR UPDATE SKIP LOCKED) doomed
      WHERE s.id = doomed.id`,
  );
  return { refreshTokens, linkTokens, sessions };
}
