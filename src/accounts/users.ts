import type { Db } from '../infra/db';
import type { Role } from '../domain/roles';

/** Self-service roles are what a person picks at sign-up; `role` adds operator on top via configuration. */
export type BaseRole = Exclude<Role, 'operator'>;

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  baseRole: BaseRole;
  passwordHash: string;
  /** Null until a verification link sent to this address was followed. */
  emailVerifiedAt: Date | null;
  /** Set by `npm run operator -- add`; null otherwise. */
  operatorGrantedAt: Date | null;
  /** Access tokens issued before this instant are refused (sign out everywhere, password reset). */
  tokensValidAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  base_role: BaseRole;
  password_hash: string;
  email_verified_at: Date | null;
  operator_granted_at: Date | null;
  tokens_valid_after: Date | null;
  created_at: Date;
  updated_at: Date;
}

export class EmailTakenError extends Error {
  constructor() {
    super('An account with this email already exists.');
    this.name = 'EmailTakenError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One spelling per address, so Foo@x and foo@x are the same account everywhere. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function fromRow(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    baseRole: row.base_role,
    passwordHash: row.password_hash,
    emailVerifiedAt: row.email_verified_at,
    operatorGrantedAt: row.operator_granted_at,
    tokensValidAfter: row.tokens_valid_after,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function createUser(
  db: Db,
  input: { email: string; name: string; passwordHash: string; role: Role; baseRole: BaseRole },
): Promise<User> {
  try {
    const [row] = await db<UserRow>('users')
      .insert({
        email: normalizeEmail(input.email),
        name: input.name,
        password_hash: input.passwordHash,
        role: input.role,
        base_role: input.baseRole,
      })
      .returning('*');
    return fromRow(row as UserRow);
  } catch (err) {
    // The unique index decides, not a prior SELECT: two concurrent sign-ups for one address get one account.
    if ((err as { code?: string }).code === '23505') throw new EmailTakenError();
    throw err;
  }
}

export async function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  const row = await db<UserRow>('users').whereRaw('lower(email) = ?', [normalizeEmail(email)]).first();
  return row ? fromRow(row) : undefined;
}

export async function findUserById(db: Db, id: string): Promise<User | undefined> {
  // Anything that is not a UUID cannot name a user; asking Postgres would be a type error (500), not a miss.
  if (!UUID.test(id)) return undefined;
  const row = await db<UserRow>('users').where({ id }).first();
  return row ? fromRow(row) : undefined;
}

export async function updateUserRole(db: Db, id: string, role: Role): Promise<void> {
  await db('users').where({ id }).update({ role, updated_at: db.fn.now() });
}

export async function updatePasswordHash(db: Db, id: string, passwordHash: string): Promise<void> {
  await db('users').where({ id }).update({ password_hash: passwordHash, updated_at: db.fn.now() });
}
