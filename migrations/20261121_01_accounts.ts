import type { Knex } from 'knex';

/**
 * Accounts and the Idempotency-Key store.
 *
 * `base_role` is the self-service role chosen at sign-up; `role` is the effective one. Keeping both lets an
 * address leave OPERATOR_EMAILS and fall back to what the person registered as, instead of losing it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE users (
      id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
      password_hash text NOT NULL,
      name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      role          text NOT NULL CHECK (role IN ('backer', 'creator', 'merchant', 'operator')),
      base_role     text NOT NULL CHECK (base_role IN ('backer', 'creator', 'merchant')),
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now()
    )
  `);
  // lower() again in the index so that even a row written around the repository cannot duplicate an address.
  await knex.raw('CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))');

  await knex.raw(`
    CREATE TABLE idempotency_keys (
      scope            text NOT NULL,
      key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
      fingerprint      text NOT NULL,
      state            text NOT NULL CHECK (state IN ('in_progress', 'completed')),
      lock_token       uuid,
      locked_until     timestamptz,
      response_status  integer,
      response_headers jsonb,
      -- json, not jsonb: json keeps the exact text, so a replay sends the same bytes (jsonb reorders keys).
      response_body    json,
      created_at       timestamptz NOT NULL DEFAULT now(),
      expires_at       timestamptz NOT NULL,
      PRIMARY KEY (scope, key),
      CHECK (state = 'completed' OR (lock_token IS NOT NULL AND locked_until IS NOT NULL)),
      CHECK (state = 'in_progress' OR response_status IS NOT NULL)
    )
  `);
  await knex.raw('CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS idempotency_keys');
  await knex.raw('DROP TABLE IF EXISTS users');
}
