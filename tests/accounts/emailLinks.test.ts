import { randomInt } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { registerAccount, TEST_PASSWORD } from '../helpers/api';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { mailCount, mailedToken } from './accountMail';

/**
 * The links accounts mail: address verification and password reset. Each is signed, expires and works once;
 * the token is read from the queued email (its outbox row), as the mailbox would receive it.
 */
let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig({ EMAIL_VERIFICATION_TTL: '1h', PASSWORD_RESET_TTL: '1h' }));
});
afterAll(() => ctx.close());

const verify = (token: unknown) => ctx.http.post('/v1/auth/verify-email').send({ token });
const requestReset = (email: string) => ctx.http.post('/v1/auth/password-reset').send({ email });
const confirmReset = (token: string, password: string) => ctx.http.post('/v1/auth/password-reset/confirm').send({ token, password });
const login = (email: string, password: string) => ctx.http.post('/v1/auth/login').send({ email, password });
const me = (token: string) => ctx.http.get('/v1/me').set('Authorization', `Bearer ${token}`);

/** The same claims re-signed with another key, or with an expiry in the past under the real key. */
function tamper(token: string, change: (claims: jwt.JwtPayload) => void): string {
  const claims = jwt.decode(token) as jwt.JwtPayload;
  change(claims);
  return jwt.sign(claims, 'not-the-key-of-these-links-32-characters!', { algorithm: 'HS256' });
}

describe('email verification', () => {
  it('registration mails a link to the address; following it verifies the account once', async () => {
    const account = await registerAccount(ctx.http);
    expect(await mailCount(ctx.deps.db, account.email, 'verify_email')).toBe(1);
    const link = (await ctx.deps.db('outbox').whereRaw(`payload->>'to' = ?`, [account.email]).first()).payload.account.link as string;
    expect(link.startsWith(`${ctx.deps.config.APP_BASE_URL}/verify-email?token=`)).toBe(true);

    const token = await mailedToken(ctx.deps.db, account.email, 'verify_email');
    const res = await verify(token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: account.id, email: account.email, email_verified: true });
    expect((await me(account.token)).body.email_verified).toBe(true);

    const again = await verify(token);
    expectProblem(again, 409, 'token_used');
  });

  it('refuses altered, cut, foreign and expired links with a clear 4xx, and verifies nothing', async () => {
    const account = await registerAccount(ctx.http);
    const token = await mailedToken(ctx.deps.db, account.email, 'verify_email');
    const [head, body, signature] = token.split('.');

    expectProblem(await verify(`${head}.${body}.${signature!.slice(0, -2)}xx`), 400, 'invalid_token');
    expectProblem(await verify(token.slice(0, token.length - 10)), 400, 'invalid_token');
    expectProblem(await verify(tamper(token, (c) => (c.sub = account.id))), 400, 'invalid_token');
    expectProblem(await verify('not-a-link'), 400, 'invalid_token');
    // An access token is not a verification link, nor is a reset link.
    expectProblem(await verify(account.token), 400, 'invalid_token');
    await requestReset(account.email);
    expectProblem(await verify(await mailedToken(ctx.deps.db, account.email, 'password_reset')), 400, 'invalid_token');
    expectProblem(await verify(42), 400, 'validation_failed');

    // Expired: the same link once its time is past (signed with the real key: only the expiry refuses it).
    const short = createTestContext(testConfig({ EMAIL_VERIFICATION_TTL: '1s', JWT_SECRET: ctx.deps.config.JWT_SECRET }));
    try {
      const late = await registerAccount(short.http);
      const lateToken = await mailedToken(ctx.deps.db, late.email, 'verify_email');
      await new Promise((r) => setTimeout(r, 2100));
      const expired = await short.http.post('/v1/auth/verify-email').send({ token: lateToken });
      expectProblem(expired, 410, 'token_expired');
      expect((await ctx.deps.db('users').where({ id: late.id }).first()).email_verified_at).toBeNull();
    } finally {
      await short.close();
    }
    expect((await me(account.token)).body.email_verified).toBe(false);
    expect((await verify(token)).status).toBe(200);
  });

  it('resend mails a new link (rate limited), and answers 409 once verified', async () => {
    const limited = createTestContext(testConfig({ ACCOUNT_EMAILS_MAX_PER_ACCOUNT: '2', JWT_SECRET: ctx.deps.config.JWT_SECRET }));
    try {
      const account = await registerAccount(limited.http);
      const resend = () => limited.http.post('/v1/auth/verify-email/resend').set('Authorization', account.auth);
      expect((await resend()).status).toBe(202);
      expect((await resend()).status).toBe(202);
      const limitedRes = await resend();
      expectProblem(limitedRes, 429, 'rate_limited');
      expect(Number(limitedRes.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(await mailCount(ctx.deps.db, account.email, 'verify_email')).toBe(3);

      // Any of the links works (the newest here), once.
      expect((await verify(await mailedToken(ctx.deps.db, account.email, 'verify_email'))).status).toBe(200);
    } finally {
      await limited.close();
    }
    const verified = await registerAccount(ctx.http);
    await verify(await mailedToken(ctx.deps.db, verified.email, 'verify_email'));
    expectProblem(await ctx.http.post('/v1/auth/verify-email/resend').set('Authorization', verified.auth), 409, 'email_already_verified');
    expectProblem(await ctx.http.post('/v1/auth/verify-email/resend'), 401, 'unauthorized');
  });
});

describe('password reset', () => {
  it('always answers 202 and tells nothing: a link is mailed only when the address has an account', async () => {
    const account = await registerAccount(ctx.http);
    const nobody = uniqueEmail('nobody');
    const known = await requestReset(account.email.toUpperCase());
    const unknown = await requestReset(nobody);
    expect([known.status, unknown.status]).toEqual([202, 202]);
    expect(known.text).toBe(unknown.text);
    expect(await mailCount(ctx.deps.db, account.email, 'password_reset')).toBe(1);
    expect(await mailCount(ctx.deps.db, nobody, 'password_reset')).toBe(0);
  });

  it('sets the new password once, ends every session, and spends the other reset links', async () => {
    const account = await registerAccount(ctx.http);
    const session = (await login(account.email, TEST_PASSWORD)).body as { token: string; refresh_token: string };
    await requestReset(account.email);
    const older = await mailedToken(ctx.deps.db, account.email, 'password_reset');
    await requestReset(account.email);
    const newest = await mailedToken(ctx.deps.db, account.email, 'password_reset');
    expect(newest).not.toBe(older);

    expect((await confirmReset(newest, 'a brand new passphrase')).status).toBe(204);
    // Old password out, new one in.
    expectProblem(await login(account.email, TEST_PASSWORD), 401, 'invalid_credentials');
    const fresh = await login(account.email, 'a brand new passphrase');
    expect(fresh.status).toBe(200);
    expect((await me(fresh.body.token)).status).toBe(200);
    // Every earlier access and refresh token is useless.
    expectProblem(await me(account.token), 401, 'unauthorized');
    expectProblem(await me(session.token), 401, 'unauthorized');
    expectProblem(await ctx.http.post('/v1/auth/refresh').send({ refresh_token: session.refresh_token }), 401, 'unauthorized');
    // The link works once, and the other link died with it.
    expectProblem(await confirmReset(newest, 'yet another passphrase'), 409, 'token_used');
    expectProblem(await confirmReset(older, 'yet another passphrase'), 409, 'token_used');
    expect((await login(account.email, 'a brand new passphrase')).status).toBe(200);
    // Following a link that reached the mailbox verifies the address; the account is told of the change.
    expect(fresh.body.user.email_verified).toBe(true);
    expect(await mailCount(ctx.deps.db, account.email, 'password_changed')).toBe(1);
  });

  it('refuses altered and foreign links and short passwords, changing nothing', async () => {
    const account = await registerAccount(ctx.http);
    await requestReset(account.email);
    const token = await mailedToken(ctx.deps.db, account.email, 'password_reset');
    expectProblem(await confirmReset(tamper(token, () => undefined), 'a brand new passphrase'), 400, 'invalid_token');
    expectProblem(await confirmReset(await mailedToken(ctx.deps.db, account.email, 'verify_email'), 'a brand new passphrase'), 400, 'invalid_token');
    expectProblem(await confirmReset(token, 'short'), 400, 'validation_failed');
    expect((await login(account.email, TEST_PASSWORD)).status).toBe(200);
    expect((await me(account.token)).status).toBe(200);
    // Still unused after all that: it works.
    expect((await confirmReset(token, 'a brand new passphrase')).status).toBe(204);
  });

  it('is rate limited per address, for addresses with and without an account alike', async () => {
    const limited = createTestContext(testConfig({ ACCOUNT_EMAILS_MAX_PER_ACCOUNT: '2' }));
    try {
      const account = await registerAccount(limited.http);
      for (const email of [account.email, uniqueEmail('nobody')]) {
        expect((await limited.http.post('/v1/auth/password-reset').send({ email })).status).toBe(202);
        expect((await limited.http.post('/v1/auth/password-reset').send({ email })).status).toBe(202);
        expectProblem(await limited.http.post('/v1/auth/password-reset').send({ email }), 429, 'rate_limited');
      }
      expect(await mailCount(ctx.deps.db, account.email, 'password_reset')).toBe(2);
    } finally {
      await limited.close();
    }
  });
});

describe('registration rate limit', () => {
  it('limits registrations per client address', async () => {
    const limited = createTestContext(testConfig({ REGISTER_MAX_PER_IP: '2', TRUST_PROXY: 'true' }));
    try {
      // Addresses of this run only: the counters live in Redis for the whole window.
      const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`;
      const ip = freshIp();
      const register = (from: string) =>
        limited.http.post('/v1/auth/register').set('X-Forwarded-For', from).send({ email: uniqueEmail(), password: TEST_PASSWORD, name: 'Ada' });
      expect((await register(ip)).status).toBe(201);
      expect((await register(ip)).status).toBe(201);
      expectProblem(await register(ip), 429, 'rate_limited');
      expect((await register(freshIp())).status).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
