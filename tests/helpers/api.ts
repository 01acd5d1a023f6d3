import { randomUUID } from 'node:crypto';
import type supertest from 'supertest';
import type { BaseRole } from '../../src/accounts/users';
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

/** POST /v1/campaigns/{id}/pledges as `backer`, under a fresh Idempotency-Key unless one is given. */
export function postPledge(http: supertest.Agent, campaignId: string, backer: { auth: string }, body: Record<string, unknown>, key: string = randomUUID()) {
  return http.post(`/v1/campaigns/${campaignId}/pledges`).set('Authorization', backer.auth).set('Idempotency-Key', key).send(body);
}
