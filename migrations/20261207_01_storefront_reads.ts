import type { Knex } from 'knex';

/**
 * Storefront reads (GET /v1/stores): the public store list is newest first, keyset over (created_at, id), and
 * its `q` search matches names by substring (ILIKE) or near-miss spelling (pg_trgm `%` and `<%`), all three of
 * which the trigram index serves, so neither the list nor a search reads every store.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.raw('CREATE INDEX stores_created_idx ON stores (created_at DESC, id DESC)');
  await knex.raw('CREATE INDEX stores_name_trgm_idx ON stores USING gin (name gin_trgm_ops)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS stores_name_trgm_idx');
  await knex.raw('DROP INDEX IF EXISTS stores_created_idx');
}
