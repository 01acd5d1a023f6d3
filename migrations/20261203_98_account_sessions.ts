import type { Knex } from 'knex';

/**
 * Accounts users expect (issue 11): verified addresses, operators granted explicitly, sessions that can end.
 *
 * - `users.email_verified_at`: set by a verification link; an OPERATOR_EMAILS address counts only once verified.
 * - `users.operator_granted_at`: set by `npm run operator -- add <email>`, the other way to become an operator.
 * - `users.tokens_valid_after`: "sign out everywhere" and password resets move it; access tokens issued before
 *   it are refused.
 * - `auth_sessions`: one login on one device, i.e. a refresh-token family; revoking it ends the session.
 * - `refresh_tokens`: opaque refresh tokens, stored as SHA-256 only. A rotated token keeps its row with
 *   `replaced_at`, so presenting it again is recognised as reuse (theft) and ends its whole family.
 * - `account_tokens`: the jti of every emailed link (verification, password reset), so each works once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE users
      ADD COLUMN email_verified_at   timestamptz,
      ADD COLUMN operator_granted_at timestamptz,
      ADD COLUMN tokens_valid_after  timestamptz
  `);

  await knex.raw(`
    CREATE TABLE auth_sessions (
      id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at     timestamptz NOT NULL DEFAULT now(),
      last_used_at   timestamptz NOT NULL DEFAULT now(),
      revoked_at     timestamptz,
      revoked_reason text CHECK (revoked_reason IN ('logout', 'logout_everywhere', 'password_reset', 'refresh_token_reused')),
      CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
    )
  `);
  // The authenticator reads a user's recently revoked sessions; sign-out-everywhere reads the live ones.
  await knex.raw('CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id, revoked_at)');

  await knex.raw(`
    CREATE TABLE refresh_tokens (
      token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
      session_id  uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL,
      replaced_at timestamptz
    )
  `);
  await knex.raw('CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id)');

  await knex.raw(`
    CREATE TABLE account_tokens (
      id         uuid PRIMARY KEY,
      user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
      email      text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      used_at    timestamptz
    )
  `);
  await knex.raw('CREATE INDEX account_tokens_open_idx ON account_tokens (user_id, purpose) WHERE used_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS account_tokens');
  await knex.raw('DROP TABLE IF EXISTS refresh_tokens');
  await knex.raw('DROP TABLE IF EXISTS auth_sessions');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS tokens_valid_after, DROP COLUMN IF EXISTS operator_granted_at, DROP COLUMN IF EXISTS email_verified_at');
}
