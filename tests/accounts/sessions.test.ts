import { INVALIDATIONS_CHANNEL } from '../../src/accounts/accountFacts';
import { createRedis } from '../../src/infra/redis';
import { bearer } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { registerAccount, TEST_PASSWORD } from '../helpers/api';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';

/**
 * Sessions: short-lived access tokens, rotating refresh tokens with reuse detection, logout and sign out
 * everywhere. Everything over HTTP against the real database; the old tokens must answer 401 afterwards.
 */
let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

interface Pair {
  token: string;
  refresh_token: string;
}

const me = (token: string) => ctx.http.get('/v1/me').set('Authorization', `Bearer ${token}`);
const refresh = (refreshToken: unknown) => ctx.http.post('/v1/auth/refresh').send({ refresh_token: refreshToken });
const login = async (email: string): Promise<Pair> => {
  const res = await ctx.http.post('/v1/auth/login').send({ email, password: TEST_PASSWORD });
  expect(res.status).toBe(200);
  return res.body as Pair;
};
async function newAccount(): Promise<{ id: string; email: string; first: Pair }> {
  const { id, email } = await registerAccount(ctx.http);
  return { id, email, first: await login(email) };
}

describe('login and register', () => {
  it('answer an access token with its expiry and an opaque refresh token, stored only as a hash', async () => {
    const account = await registerAccount(ctx.http);
    const res = await ctx.http.post('/v1/auth/login').send({ email: account.email, password: TEST_PASSWORD });
    expect(res.body).toMatchObject({ token_type: 'Bearer', refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const refreshTtl = new Date(res.body.refresh_expires_at).getTime() - Date.now();
    expect(refreshTtl).toBeGreaterThan(ctx.deps.config.REFRESH_TOKEN_TTL - 60_000);
    const rows = await ctx.deps.db('refresh_tokens as t').join('auth_sessions as s', 's.id', 't.session_id').where('s.user_id', account.id);
    expect(rows).toHaveLength(2); // one session from registration, one from this login
    expect(JSON.stringify(rows)).not.toContain(res.body.refresh_token);
  });
});

describe('POST /v1/auth/refresh', () => {
  it('rotates: a new pair that works, for the same account and session', async () => {
    const { first } = await newAccount();
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(res.body.token).not.toBe(first.token);
    expect((await me(res.body.token)).status).toBe(200);
    const again = await refresh(res.body.refresh_token);
    expect(again.status).toBe(200);
    expect(again.body.user.id).toBe(res.body.user.id);
  });

  it('reuse of a rotated token ends the whole family: the thief and the owner both need to log in again', async () => {
    const { id: userId, email, first } = await newAccount();
    const rotated = (await refresh(first.refresh_token)).body as Pair;
    const next = (await refresh(rotated.refresh_token)).body as Pair;

    // The first token again: reuse. Refused, and the session ends.
    const reused = await refresh(first.refresh_token);
    expectProblem(reused, 401, 'unauthorized');
    expect(reused.body.detail).toMatch(/already used/);
    // The newest refresh token of that family is dead too, and so are its access tokens.
    expectProblem(await refresh(next.refresh_token), 401, 'unauthorized');
    expectProblem(await me(next.token), 401, 'unauthorized');
    expectProblem(await me(rotated.token), 401, 'unauthorized');
    const ended = await ctx.deps.db('auth_sessions').where({ user_id: userId }).whereNotNull('revoked_at').select('revoked_reason');
    expect(ended).toEqual([{ revoked_reason: 'refresh_token_reused' }]);

    // Other sessions of the account are untouched, and a new login works.
    const other = await login(email);
    expect((await me(other.token)).status).toBe(200);
    expect((await refresh(other.refresh_token)).status).toBe(200);
  });

  it('concurrent refreshes with one token: exactly one wins, and the family ends (it looks like reuse)', async () => {
    const { first } = await newAccount();
    const results = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token), refresh(first.refresh_token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401]);
    const winner = results.find((r) => r.status === 200)!.body as Pair;
    expectProblem(await refresh(winner.refresh_token), 401, 'unauthorized');
  });

  it('401 for unknown, malformed or expired refresh tokens; 400 for a body of the wrong shape', async () => {
    expectProblem(await refresh('A'.repeat(43)), 401, 'unauthorized');
    expectProblem(await refresh('not a token'), 401, 'unauthorized');
    const { id: userId, first } = await newAccount();
    await ctx.deps
      .db('refresh_tokens')
      .whereIn('session_id', ctx.deps.db('auth_sessions').select('id').where({ user_id: userId }))
      .update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await refresh(first.refresh_token);
    expectProblem(expired, 401, 'unauthorized');
    expect(expired.body.detail).toMatch(/expired/);
    expectProblem(await refresh(42), 400, 'validation_failed');
    expectProblem(await ctx.http.post('/v1/auth/refresh').send({}), 400, 'validation_failed');
    expectProblem(await ctx.http.post('/v1/auth/refresh').send({ refresh_token: first.refresh_token, extra: 1 }), 400, 'validation_failed');
  });
});

describe('POST /v1/auth/logout', () => {
  it('ends this session only: its access and refresh tokens answer 401, another session keeps working', async () => {
    const { email, first } = await newAccount();
    const second = await login(email);
    const out = await ctx.http.post('/v1/auth/logout').set('Authorization', `Bearer ${first.token}`);
    expect(out.status).toBe(204);
    expectProblem(await me(first.token), 401, 'unauthorized');
    expectProblem(await refresh(first.refresh_token), 401, 'unauthorized');
    expect((await me(second.token)).status).toBe(200);
    expect((await refresh(second.refresh_token)).status).toBe(200);
  });

  it('needs a valid access token (401 otherwise)', async () => {
    expectProblem(await ctx.http.post('/v1/auth/logout'), 401, 'unauthorized');
  });
});

describe('POST /v1/auth/logout-everywhere', () => {
  it('ends every session and refuses every access token issued before, even ones minted without a session', async () => {
    const { id: userId, email, first } = await newAccount();
    const second = await login(email);
    const refreshed = (await refresh(second.refresh_token)).body as Pair;
    const minted = bearer(ctx.deps, userId); // as tests and benches mint them: no session id

    expect((await ctx.http.post('/v1/auth/logout-everywhere').set('Authorization', `Bearer ${refreshed.token}`)).status).toBe(204);
    for (const token of [first.token, second.token, refreshed.token]) expectProblem(await me(token), 401, 'unauthorized');
    expectProblem(await ctx.http.get('/v1/me').set('Authorization', minted), 401, 'unauthorized');
    for (const r of [first.refresh_token, refreshed.refresh_token]) expectProblem(await refresh(r), 401, 'unauthorized');

    // Logging in right after works: the cut-off is the sign-out's instant, not its second.
    const fresh = await login(email);
    expect((await me(fresh.token)).status).toBe(200);
    expect((await refresh(fresh.refresh_token)).status).toBe(200);
  });
});

describe('sign-outs made by another API process', () => {
  it('evict this process\'s cached account facts through Redis at once, not after AUTH_CACHE_TTL', async () => {
    // A long cache: without the eviction message the old token would keep working for ten minutes.
    const cached = createTestContext(testConfig({ AUTH_CACHE_TTL: '10m' }));
    const otherProcess = createRedis(cached.deps.config.REDIS_URL);
    try {
      const account = await registerAccount(cached.http);
      // A route that reads nothing of the account itself, so only the authenticator decides.
      const status = async () => (await cached.http.get('/v1/me/notifications').set('Authorization', account.auth)).status;
      expect(await status()).toBe(200);
      // Another process signs the account out everywhere: the row changes, this process still has the old facts.
      await cached.deps.db('users').where({ id: account.id }).update({ tokens_valid_after: new Date() });
      expect(await status()).toBe(200);
      await otherProcess.publish(INVALIDATIONS_CHANNEL, account.id);
      await eventually(async () => (await status()) === 401, 10_000, 'the eviction to reach this process');
    } finally {
      otherProcess.disconnect();
      await cached.close();
    }
  });
});
