import type { Knex } from 'knex';

/**
 * Pledge edits. An edit that changes an authorized amount places a new hold under its own business key
 * (`pledge:<id>:authorize:<revision>`); the revision is reserved before the provider call, so every attempt
 * gets a fresh key and a concurrent edit is detected when it commits.
 * The owner's pledge list pages newest first, which the (campaign_id, status, id) index cannot serve.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pledges ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0)');
  await knex.raw('CREATE INDEX pledges_campaign_created_idx ON pledges (campaign_id, created_at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS pledges_campaign_created_idx');
  await knex.raw('ALTER TABLE pledges DROP COLUMN IF EXISTS revision');
}
