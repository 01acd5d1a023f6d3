import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/accounts/tokens';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { registerOperator } from '../helpers/api';
import { expectProblem } from '../helpers/problems';
import { mailedToken } from './accountMail';

const PASSWORD = 'correct horse battery staple';

let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

function register(body: Record<string, unknown>, c: TestContext = ctx) {
  return c.http.post('/v1/auth/register').send({ password: PASSWORD, name: 'Ada', ...body });
}

describe('register, login, me', () => {
  it('registers a backer by default, returns user and token, and the token works on /v1/me', async () => {
    const email = uniqueEmail();
    const res = await register({ email });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({ id: expect.any(String), email, name: 'Ada', role: 'backer', email_verified: false, created_at: expect.any(String) });
    expect(new Date(res.body.user.created_at).toISOString()).toBe(res.body.user.created_at);
    expect(res.body).toMatchObject({ token: expect.any(String), token_type: 'Bearer', refresh_token: expect.any(String) });
    const ttlMs = new Date(res.body.expires_at).getTime() - Date.now();
    expect(ttlMs).toBeGreaterThan((ctx.deps.config.TOKEN_TTL_SECONDS - 60) * 1000);
    expect(ttlMs).toBeLessThanOrEqual(ctx.deps.config.TOKEN_TTL_SECONDS * 1000);

    const me = await ctx.http.get('/v1/me').set('Authorization', `Bearer ${res.body.token}`);
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.user);
  });

  it('registers creators and merchants when asked', async () => {
    for (const role of ['creator', 'merchant']) {
      const res = await register({ email: uniqueEmail(role), role });
      expect(res.status).toBe(201);
      expect(res.body.user.role).toBe(role);
    }
  });

  it('stores an argon2id hash, never the password, and never returns the hash', async () => {
    const email = uniqueEmail();
    const res = await register({ email });
    const row = await ctx.deps.db('users').where({ id: res.body.user.id }).first();
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(res.body)).not.toContain(row.password_hash);
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
  });

  it('logs in with the right password, whatever the case of the email', async () => {
    const email = uniqueEmail();
    const created = await register({ email, role: 'creator' });
    const res = await ctx.http.post('/v1/auth/login').send({ email: email.toUpperCase(), password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(created.body.user);
    const me = await ctx.http.get('/v1/me').set('Authorization', `Bearer ${res.body.token}`);
    expect(me.body.id).toBe(created.body.user.id);
  });

  it('answers 401 invalid_credentials alike for a wrong password and an unknown email', async () => {
    const email = uniqueEmail();
    await register({ email });
    const wrong = await ctx.http.post('/v1/auth/login').send({ email, password: 'not the password' });
    const unknown = await ctx.http.post('/v1/auth/login').send({ email: uniqueEmail('nobody'), password: PASSWORD });
    expectProblem(wrong, 401, 'invalid_credentials');
    expectProblem(unknown, 401, 'invalid_credentials');
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
  });

  it('answers 409 email_taken for a second registration, also when only the case differs', async () => {
    const email = uniqueEmail('Foo');
    expect((await register({ email })).status).toBe(201);
    expectProblem(await register({ email }), 409, 'email_taken');
    expectProblem(await register({ email: email.toLowerCase() }), 409, 'email_taken');
    expectProblem(await register({ email: email.toUpperCase() }), 409, 'email_taken');
    const rows = await ctx.deps.db('users').whereRaw('lower(email) = ?', [email.toLowerCase()]);
    expect(rows).toHaveLength(1);
    expect(rows[0].email).toBe(email.toLowerCase());
  });

  it('gives exactly one account to concurrent registrations of one address', async () => {
    const email = uniqueEmail();
    const results = await Promise.all([register({ email }), register({ email: email.toUpperCase() }), register({ email })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
  });
});

describe('tokens on protected routes', () => {
  let userId: string;
  let token: string;
  beforeAll(async () => {
    const res = await register({ email: uniqueEmail() });
    userId = res.body.user.id;
    token = res.body.token;
  });

  const me = (authorization?: string) => {
    const req = ctx.http.get('/v1/me');
    return authorization === undefined ? req : req.set('Authorization', authorization);
  };
  const sign = (claims: object, secret = ctx.deps.config.JWT_SECRET, options: jwt.SignOptions = {}) =>
    jwt.sign(claims, secret, { algorithm: 'HS256', issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, subject: userId, ...options });

  it('401 without a token, with a WWW-Authenticate challenge', async () => {
    const res = await me();
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('401 for a malformed Authorization header or token', async () => {
    expectProblem(await me(token), 401, 'unauthorized');
    expectProblem(await me(`Basic ${Buffer.from('a:b').toString('base64')}`), 401, 'unauthorized');
    expectProblem(await me('Bearer '), 401, 'unauthorized');
    expectProblem(await me('Bearer not-a-token'), 401, 'unauthorized');
    expectProblem(await me(`Bearer ${token}x`), 401, 'unauthorized');
  });

  it('401 for an expired token signed with the right secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await me(`Bearer ${sign({ iat: now - 7200, exp: now - 3600 })}`);
    expectProblem(res, 401, 'unauthorized');
    expect(res.body.detail).toMatch(/expired/);
  });

  it('401 for a token signed with another secret', async () => {
    expectProblem(await me(`Bearer ${sign({}, 'another-secret-that-is-32-characters-long!', { expiresIn: 600 })}`), 401, 'unauthorized');
  });

  it('accepts a token it signed itself with the same claims (the negative cases above are not accidental)', async () => {
    expect((await me(`Bearer ${sign({}, undefined, { expiresIn: 600 })}`)).status).toBe(200);
  });

  it('401 for a token whose subject is not a user id', async () => {
    expectProblem(await me(`Bearer ${sign({}, undefined, { expiresIn: 600, subject: 'not-a-uuid' })}`), 401, 'unauthorized');
    expectProblem(await me(`Bearer ${sign({}, undefined, { expiresIn: 600, subject: randomUUID() })}`), 401, 'unauthorized');
  });

  it('401 for a valid token of a deleted user', async () => {
    const res = await register({ email: uniqueEmail('gone') });
    expect((await me(`Bearer ${res.body.token}`)).status).toBe(200);
    await ctx.deps.db('users').where({ id: res.body.user.id }).delete();
    expectProblem(await me(`Bearer ${res.body.token}`), 401, 'unauthorized');
  });
});

describe('roles', () => {
  it('refuses self-registration as operator with 400 and creates nothing', async () => {
    const email = uniqueEmail();
    const res = await register({ email, role: 'operator' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'body.role' })]));
    expect(await ctx.deps.db('users').where({ email }).first()).toBeUndefined();
  });

  it('gates a role-restricted route: 403 for other roles, 200 for operators', async () => {
    const backer = await register({ email: uniqueEmail() });
    const merchant = await register({ email: uniqueEmail(), role: 'merchant' });
    const path = `/v1/operator/users/${backer.body.user.id}`;
    expectProblem(await ctx.http.get(path), 401, 'unauthorized');
    expectProblem(await ctx.http.get(path).set('Authorization', `Bearer ${backer.body.token}`), 403, 'forbidden');
    expectProblem(await ctx.http.get(path).set('Authorization', `Bearer ${merchant.body.token}`), 403, 'forbidden');

    const operatorEmail = uniqueEmail('op');
    const opCtx = createTestContext(testConfig({ OPERATOR_EMAILS: `someone@else.test, ${operatorEmail}` }));
    try {
      await register({ email: operatorEmail }, opCtx);
      await opCtx.http.post('/v1/auth/verify-email').send({ token: await mailedToken(ctx.deps.db, operatorEmail, 'verify_email') });
      const operator = await opCtx.http.post('/v1/auth/login').send({ email: operatorEmail, password: PASSWORD });
      expect(operator.body.user.role).toBe('operator');
      const ok = await opCtx.http.get(path).set('Authorization', `Bearer ${operator.body.token}`);
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual(backer.body.user);
      const missing = await opCtx.http.get(`/v1/operator/users/${randomUUID()}`).set('Authorization', `Bearer ${operator.body.token}`);
      expectProblem(missing, 404, 'not_found');
    } finally {
      await opCtx.close();
    }
  });

  it('never makes a listed OPERATOR_EMAILS address an operator at registration, whatever role was asked', async () => {
    const email = uniqueEmail('Boss');
    const opCtx = createTestContext(testConfig({ OPERATOR_EMAILS: email.toUpperCase() }));
    try {
      const res = await register({ email, role: 'creator' }, opCtx);
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ role: 'creator', email_verified: false });
      expect(await ctx.deps.db('users').where({ id: res.body.user.id }).first()).toMatchObject({ role: 'creator', base_role: 'creator' });
      expectProblem(await opCtx.http.get(`/v1/operator/users/${res.body.user.id}`).set('Authorization', `Bearer ${res.body.token}`), 403, 'forbidden');
      // Logging in again changes nothing while the address is unverified.
      const login = await opCtx.http.post('/v1/auth/login').send({ email, password: PASSWORD });
      expect(login.body.user.role).toBe('creator');
    } finally {
      await opCtx.close();
    }
  });

  it('follows OPERATOR_EMAILS for a verified address, both ways, case-insensitively', async () => {
    const email = uniqueEmail('Boss');
    const created = await register({ email, role: 'merchant' });
    expect((await ctx.http.post('/v1/auth/verify-email').send({ token: await mailedToken(ctx.deps.db, email, 'verify_email') })).status).toBe(200);
    const opCtx = createTestContext(testConfig({ OPERATOR_EMAILS: email.toUpperCase() }));
    try {
      const promoted = await opCtx.http.post('/v1/auth/login').send({ email, password: PASSWORD });
      expect(promoted.status).toBe(200);
      expect(promoted.body.user.role).toBe('operator');
      expect((await ctx.deps.db('users').where({ email: email.toLowerCase() }).first()).role).toBe('operator');
      const asOperator = await opCtx.http.get(`/v1/operator/users/${created.body.user.id}`).set('Authorization', `Bearer ${promoted.body.token}`);
      expect(asOperator.status).toBe(200);
    } finally {
      await opCtx.close();
    }

    // Removed from the list: back to the role registered with, not to a default.
    const demoted = await ctx.http.post('/v1/auth/login').send({ email, password: PASSWORD });
    expect(demoted.body.user.role).toBe('merchant');
    expect((await ctx.deps.db('users').where({ email: email.toLowerCase() }).first()).role).toBe('merchant');
    const me = await ctx.http.get('/v1/me').set('Authorization', `Bearer ${demoted.body.token}`);
    expect(me.body.role).toBe('merchant');
  });
});

describe('bad input answers 400 problem+json, never 500', () => {
  const endpoints = ['/v1/auth/register', '/v1/auth/login'];

  it.each(endpoints)('%s: malformed JSON', async (path) => {
    const res = await ctx.http.post(path).set('Content-Type', 'application/json').send('{"email": "a@b.test", "password": ');
    expectProblem(res, 400, 'malformed_json');
  });

  it.each(endpoints)('%s: no JSON body at all', async (path) => {
    expectProblem(await ctx.http.post(path).set('Content-Type', 'text/plain').send('email=a@b.test'), 400, 'validation_failed');
    expectProblem(await ctx.http.post(path), 400, 'validation_failed');
  });

  it.each(endpoints)('%s: wrong types', async (path) => {
    for (const body of [
      { email: 42, password: PASSWORD, name: 'Ada' },
      { email: uniqueEmail(), password: ['x'], name: 'Ada' },
      { email: uniqueEmail(), password: PASSWORD, name: { first: 'Ada' } },
      [{ email: uniqueEmail(), password: PASSWORD }],
      { email: null, password: null },
    ]) {
      expectProblem(await ctx.http.post(path).send(body), 400, 'validation_failed');
    }
  });

  it.each(endpoints)('%s: unknown fields', async (path) => {
    const res = await ctx.http.post(path).send({ email: uniqueEmail(), password: PASSWORD, name: 'Ada', is_admin: true });
    expectProblem(res, 400, 'validation_failed');
    expect(JSON.stringify(res.body.errors)).toContain('is_admin');
  });

  it('register: invalid email, short password, blank name, unknown role', async () => {
    for (const body of [
      { email: 'not-an-email', password: PASSWORD, name: 'Ada' },
      { email: uniqueEmail(), password: 'short', name: 'Ada' },
      { email: uniqueEmail(), password: PASSWORD, name: '   ' },
      { email: uniqueEmail(), password: PASSWORD, name: 'Ada', role: 'admin' },
      { email: uniqueEmail(), password: 'x'.repeat(257), name: 'Ada' },
    ]) {
      expectProblem(await ctx.http.post('/v1/auth/register').send(body), 400, 'validation_failed');
    }
  });

  it('operator route: a malformed id is 400, not a database error', async () => {
    const operator = await registerOperator(ctx.http, ctx.deps.db);
    const res = await ctx.http.get('/v1/operator/users/not-a-uuid').set('Authorization', operator.auth);
    expectProblem(res, 400, 'validation_failed');
  });
});

describe('Idempotency-Key on the credential routes', () => {
  it('is accepted but never stored: neither the password-derived fingerprint nor the token is persisted', async () => {
    const key = randomUUID();
    const email = uniqueEmail();
    expect((await ctx.http.post('/v1/auth/register').set('Idempotency-Key', key).send({ email, password: PASSWORD, name: 'Ada' })).status).toBe(201);
    const again = await ctx.http.post('/v1/auth/register').set('Idempotency-Key', key).send({ email, password: PASSWORD, name: 'Ada' });
    expectProblem(again, 409, 'email_taken');
    expect((await ctx.http.post('/v1/auth/login').set('Idempotency-Key', key).send({ email, password: PASSWORD })).status).toBe(200);
    expect(await ctx.deps.db('idempotency_keys').where({ key })).toHaveLength(0);
  });

  it('is still rejected with 400 when malformed', async () => {
    const res = await ctx.http.post('/v1/auth/login').set('Idempotency-Key', 'k'.repeat(256)).send({ email: uniqueEmail(), password: PASSWORD });
    expectProblem(res, 400, 'invalid_idempotency_key');
  });
});

describe('OpenAPI', () => {
  it('documents the account routes', async () => {
    const res = await ctx.http.get('/openapi.json');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/auth/register',
        '/v1/auth/login',
        '/v1/auth/refresh',
        '/v1/auth/logout',
        '/v1/auth/logout-everywhere',
        '/v1/auth/verify-email',
        '/v1/auth/verify-email/resend',
        '/v1/auth/password-reset',
        '/v1/auth/password-reset/confirm',
        '/v1/me',
      ]),
    );
    expect(res.body.paths['/v1/auth/logout'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(res.body.paths['/v1/me'].get.security).toEqual([{ bearerAuth: [] }]);
  });
});
