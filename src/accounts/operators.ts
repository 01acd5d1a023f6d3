import type { Db } from '../infra/db';
import { forgetAccountFacts } from './accountFacts';
import { normalizeEmail } from './users';

/**
 * Operators granted by the operator command (`npm run operator -- add|remove|list`), the one way besides a
 * verified OPERATOR_EMAILS address. `role` is rewritten too so the stored row says what the account is;
 * the authenticator decides from `operator_granted_at` (see effectiveRole).
 */
export interface OperatorGrant {
  id: string;
  email: string;
  grantedAt: Date;
}

/** Null when no account has the address (the command says so; it never creates accounts). */
export async function grantOperator(db: Db, email: string): Promise<OperatorGrant | null> {
  const [row] = (await db('users')
    .whereRaw('lower(email) = ?', [normalizeEmail(email)])
    .update({ operator_granted_at: db.raw('coalesce(operator_granted_at, now())'), role: 'operator', updated_at: db.fn.now() }, [
      'id',
      'email',
      'operator_granted_at',
    ])) as Array<{ id: string; email: string; operator_granted_at: Date }>;
  if (!row) return null;
  forgetAccountFacts(row.id);
  return { id: row.id, email: row.email, grantedAt: row.operator_granted_at };
}

/**
 * Takes the command's grant away; the account falls back to its registered role (a verified address still in
 * OPERATOR_EMAILS stays an operator through the list). The accounts changed: none when the address had no grant.
 */
export async function revokeOperator(db: Db, email: string): Promise<string[]> {
  const rows = (await db('users')
    .whereRaw('lower(email) = ?', [normalizeEmail(email)])
    .whereNotNull('operator_granted_at')
    .update({ operator_granted_at: null, role: db.ref('base_role'), updated_at: db.fn.now() }, ['id'])) as Array<{ id: string }>;
  for (const r of rows) forgetAccountFacts(r.id);
  return rows.map((r) => r.id);
}

export async function listOperatorGrants(db: Db): Promise<OperatorGrant[]> {
  const rows = (await db('users').whereNotNull('operator_granted_at').orderBy('operator_granted_at').select('id', 'email', 'operator_granted_at')) as Array<{
    id: string;
    email: string;
    operator_granted_at: Date;
  }>;
  return rows.map((r) => ({ id: r.id, email: r.email, grantedAt: r.operator_granted_at }));
}
