import type { Db } from '../../src/infra/db';

/**
 * The token of the newest account email of `kind` queued for `email`, read from its outbox row (where the
 * email lane picks it up; the row keeps the link until the mail is out, and these tests run no dispatcher).
 * The Mailpit test reads the same link from the delivered message instead.
 */
export async function mailedToken(db: Db, email: string, kind: 'verify_email' | 'password_reset'): Promise<string> {
  const row = (await db('outbox')
    .where({ topic: 'notification_email' })
    .whereRaw(`payload->>'to' = ? AND payload->'account'->>'kind' = ?`, [email.toLowerCase(), kind])
    .orderBy('id', 'desc')
    .first('payload')) as { payload: { account: { link: string } } } | undefined;
  if (!row) throw new Error(`no ${kind} email queued for ${email}`);
  const token = new URL(row.payload.account.link).searchParams.get('token');
  if (!token) throw new Error(`the ${kind} link has no token: ${row.payload.account.link}`);
  return token;
}

/** How many account emails of `kind` were queued for `email`. */
export async function mailCount(db: Db, email: string, kind: string): Promise<number> {
  const [row] = (await db('outbox')
    .where({ topic: 'notification_email' })
    .whereRaw(`payload->>'to' = ? AND payload->'account'->>'kind' = ?`, [email.toLowerCase(), kind])
    .count('* as n')) as Array<{ n: string | number }>;
  return Number(row?.n ?? 0);
}
