import type { Knex } from 'knex';
import { EMAIL_CATEGORIES, type EmailCategory } from './categories';

/** Per-user opt-outs of non-essential mail (table email_preferences; no row = every category on). */
export type EmailPreferences = Record<EmailCategory, boolean>;

export async function readEmailPreferences(db: Knex, userId: string): Promise<EmailPreferences> {
  const row = (await db('email_preferences').where({ user_id: userId }).first('opted_out')) as { opted_out: string[] } | undefined;
  return toPreferences(row?.opted_out ?? []);
}

/** Applies the given categories' on/off and returns the result; categories not named keep their setting. */
export async function updateEmailPreferences(db: Knex, userId: string, changes: Partial<EmailPreferences>): Promise<EmailPreferences> {
  const off = EMAIL_CATEGORIES.filter((c) => changes[c] === false);
  const on = EMAIL_CATEGORIES.filter((c) => changes[c] === true);
  // One statement: concurrent updates of different categories both land.
  const { rows } = (await db.raw(
    `INSERT INTO email_preferences AS p (user_id, opted_out) VALUES (?, ?::text[])
     ON CONFLICT (user_id) DO UPDATE SET
       opted_out = ARRAY(SELECT DISTINCT c FROM unnest(p.opted_out || ?::text[]) AS c WHERE c <> ALL(?::text[]) ORDER BY c),
       updated_at = now()
     RETURNING opted_out`,
    [userId, off, off, on],
  )) as { rows: { opted_out: string[] }[] };
  return toPreferences(rows[0]!.opted_out);
}

function toPreferences(optedOut: readonly string[]): EmailPreferences {
  return Object.fromEntries(EMAIL_CATEGORIES.map((c) => [c, !optedOut.includes(c)])) as EmailPreferences;
}
