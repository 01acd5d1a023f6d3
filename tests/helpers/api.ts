import { randomUUID } from 'node:crypto';
import type supertest from 'supertest';
import { grantOperator } from '../../src/accounts/operators';
import type { BaseRole } from '../../src/accounts/users';
import type { Db } from '../../src/infra/db';
import { uniqueEmail } from './context';

/**
 * Requests through the public API, for tests that go the whole way over HTTP (the database fixtures in
 * ./fixtures are for the rest).
 */

/** The password every account registered by a test uses. */
export const TEST_PASSWORD = 'correct horse battery staple';

export interface RegisteredAccount {
  id: string;
  email: string;
  role: string;
  token: string;
  /** The Authorization header value: `Bearer <token>`. */
  auth: string;
}

/** Signs up through POST /v1/auth/register (a role is sent only when given) and expects 201. */
export async function registerAccount(
  http: supertest.Agent,
  opts: { role?: BaseRole; email?: string; name?: string } = {},
): Promise<RegisteredAccount> {
  const email = opts.email ?? uniqueEmail(opts.role);
  const res = await http
    .post('/v1/auth/register')
    .send({ email, password: TEST_PASSWORD, name: opts.name ?? `A ${opts.role ?? 'user'}`, ...(opts.role ? { role: opts.role } : {}) });
  expect(res.status).toBe(201);
  const token = res.body.token as string;
  return { id: res.body.user.id, email: res.body.user.email, role: res.body.user.role, token, auth: `Bearer ${token}` };
}

/**
 * Signs up through the API, then makes the account an operator the way ops do: the grant of
 * `npm run operator -- add <email>` (its service, in-process, so this process's auth cache hears of it).
 */
export async function registerOperator(
  http: supertest.Agent,
  db: Db,
  opts: { role?: BaseRole; email?: string; name?: string } = {},
): Promise<RegisteredAccount> {
  const account = await registerAccount(http, { name: 'An operator', ...opts });
  if (!(await grantOperator(db, account.email))) throw new Error(`could not grant operator to ${account.email}`);
  return { ...account, role: 'operator' };
}

/** POST /v1/campaigns/{id}/pledges as `backer`, under a fresh Idempotency-Key unless one is given. */
export function postPledge(http: supertest.Agent, campaignId: string, backer: { auth: string }, body: Record<string, unknown>, key: string = randomUUID()) {
  return http.post(`/v1/campaigns/${campaignId}/pledges`).set('Authorization', backer.auth).set('Idempotency-Key', key).send(body);
}
