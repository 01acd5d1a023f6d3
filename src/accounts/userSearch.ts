import type { Knex } from 'knex';
import type { Role } from '../domain/roles';
import { newestFirstPage } from '../campaigns/keysetCursor';
import { escapeLike } from '../infra/db';
import { effectiveRole } from './authorization';
import type { BaseRole } from './users';

/** An account as the operators' user list shows it (the role as it is in effect, operators included). */
export interface UserListItem {
  id: string;
  email: string;
  name: string;
  role: Role;
  email_verified: boolean;
  created_at: string;
}

interface Row {
  id: string;
  email: string;
  name: string;
  base_role: BaseRole;
  email_verified_at: Date | null;
  operator_granted_at: Date | null;
  created_at: Date;
}

/** GET /v1/operator/users: accounts newest first, or those whose email or name contains `q` (case-insensitive). */
export async function searchUsers(
  db: Knex,
  operatorEmails: readonly string[],
  query: { q?: string; limit: number; cursor?: string },
): Promise<{ data: UserListItem[]; next_cursor: string | null }> {
  const q = db('users as u').select('u.id', 'u.email', 'u.name', 'u.base_role', 'u.email_verified_at', 'u.operator_granted_at', 'u.created_at');
  const term = query.q?.trim();
  if (term) {
    const like = `%${escapeLike(term)}%`;
    q.where((w) => w.whereRaw(`u.email ILIKE ? ESCAPE '\\'`, [like]).orWhereRaw(`u.name ILIKE ? ESCAPE '\\'`, [like]));
  }
  const page = await newestFirstPage<Row>(db, q, { time: 'u.created_at', id: 'u.id' }, query);
  return {
    data: page.rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      role: effectiveRole({ email: r.email, baseRole: r.base_role, emailVerified: r.email_verified_at !== null, operatorGranted: r.operator_granted_at !== null }, operatorEmails),
      email_verified: r.email_verified_at !== null,
      created_at: r.created_at.toISOString(),
    })),
    next_cursor: page.nextCursor,
  };
}
