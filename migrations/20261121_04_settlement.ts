import type { Knex } from 'knex';

/**
 * Settlement retries. last_failed_attempt is the charge attempt (`pledge:<id>:charge:<n>`) whose decline was
 * recorded. An attempt above it has an unknown outcome (the worker died mid-call) and must be replayed with
 * the SAME key, never replaced by a new one, or a backer could be charged twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pledges ADD COLUMN last_failed_attempt integer NOT NULL DEFAULT 0 CHECK (last_failed_attempt >= 0)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pledges DROP COLUMN IF EXISTS last_failed_attempt');
}
