import type { Knex } from 'knex';
import { outboxKeyForEmail } from './notify';

/**
 * Account mail (address verification, password reset, security notices): queued in the caller's
 * transaction as an outbox email row and delivered by the email lane like every notification email, but
 * essential (sent whatever the preferences) and without an inbox entry, since a reset link has no place in
 * the in-app inbox. The link is removed from the row once the mail is out.
 */
export type AccountEmailKind = 'verify_email' | 'password_reset' | 'password_changed';

export interface AccountEmailInput {
  /** The account the mail is about. */
  userId: string;
  /** Where it goes: for verification, the address being verified (which may not be the account's yet). */
  to: string;
  kind: AccountEmailKind;
  /** The page the button opens (verify_email and password_reset). */
  link?: string;
  /** When the link stops working; shown in the mail. */
  expiresAt?: Date;
  /** Unique per mail, e.g. `verify_email:<token id>`; a repeated call with the same key queues nothing. */
  dedupeKey: string;
}

/** The payload of an account mail's outbox row (read back by the email lane). */
export interface AccountEmailPayload {
  user_id: string;
  to: string;
  account: { kind: AccountEmailKind; link: string | null; expires_at: string | null };
}

export const accountEmailOutboxKey = (dedupeKey: string) => outboxKeyForEmail(`account:${dedupeKey}`);

/** Queues the mail; true when it was newly queued, false when `dedupeKey` was used before. */
export async function sendAccountEmail(db: Knex | Knex.Transaction, input: AccountEmailInput): Promise<boolean> {
  const payload: AccountEmailPayload = {
    user_id: input.userId,
    to: input.to.trim().toLowerCase(),
    account: { kind: input.kind, link: input.link ?? null, expires_at: input.expiresAt?.toISOString() ?? null },
  };
  const result = await db.raw(
    `INSERT INTO outbox (topic, dedupe_key, payload) VALUES ('notification_email', ?, ?::jsonb) ON CONFLICT (dedupe_key) DO NOTHING`,
    [accountEmailOutboxKey(input.dedupeKey), JSON.stringify(payload)],
  );
  return (result.rowCount ?? 0) > 0;
}
