import type { Knex } from 'knex';

/**
 * What the reconciliations repaired, kept for the operators' "needs attention" list (the metrics only count it):
 * one row per repair, naming what was repaired and the reconciliation run that did it, so an operator can follow
 * the run into the Temporal Web UI. Newest first, keyset over (created_at, id).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reconciliation_repairs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      domain text NOT NULL CHECK (domain IN ('commerce', 'bookings')),
      kind text NOT NULL CHECK (kind <> ''),
      subject text NOT NULL CHECK (subject <> ''),
      count integer NOT NULL DEFAULT 1 CHECK (count > 0),
      workflow_id text NOT NULL CHECK (workflow_id <> ''),
      detail jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX reconciliation_repairs_created_idx ON reconciliation_repairs (created_at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS reconciliation_repairs');
}
