import type { Knex } from 'knex';

/**
 * `pledgeflow_abort(reason)` raises SQLSTATE PF001 with `reason` as its message. A new pledge's activation is
 * one statement (src/campaigns/pledgeWrites.ts) whose campaign UPDATE may find the campaign decided after the
 * pledge row was already changed in the same statement; calling this aborts the whole statement, so nothing
 * of it is kept, the way a thrown error rolls back a transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION pledgeflow_abort(reason text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'PF001', MESSAGE = reason;
    END
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS pledgeflow_abort(text)');
}
