import type { Knex } from 'knex';

/**
 * The public campaign list (every non-draft campaign, newest first) has no status or category to lead with,
 * so the (status, created_at) indexes cannot serve its order; this partial index can, without carrying the
 * drafts nobody browses.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX campaigns_public_created_idx ON campaigns (created_at DESC, id) WHERE status <> 'draft'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS campaigns_public_created_idx');
}
