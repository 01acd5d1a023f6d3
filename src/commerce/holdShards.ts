/**
 * Which hold-expiry sweeper owns a hold: a stable function of the hold's variant id (its first 32 bits, unsigned,
 * modulo the shard count), computed the same way here and in SQL, so the sweepers' statements select their
 * shard without a stored column and a change of HOLD_EXPIRY_SHARDS re-partitions every hold at once.
 */

export function holdShard(variantId: string, shards: number): number {
  return Number.parseInt(variantId.slice(0, 8), 16) % shards;
}

/** The same as holdShard, in SQL, for the uuid column `column`; the shard count is bound to its one `?`. */
export const holdShardSql = (column: string) => `((('x' || substr(${column}::text, 1, 8))::bit(32)::bigint) % ?)`;
