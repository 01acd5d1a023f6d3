import type { Db } from './db';

/**
 * Deletes idempotency records past their retention (IDEMPOTENCY_KEY_TTL_HOURS, at least 24 h after the
 * response), in batches so a large backlog never holds long locks. Returns how many were deleted.
 */
export async function purgeExpiredIdempotencyKeys(db: Db, batchSize = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.raw<{ rowCount: number }>(
      `DELETE FROM idempotency_keys k
        USING (SELECT scope, key FROM idempotency_keys WHERE expires_at <= now() LIMIT ? FOR UPDATE SKIP LOCKED) doomed
        WHERE k.scope = doomed.scope AND k.key = doomed.key`,
      [batchSize],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return total;
  }
}
