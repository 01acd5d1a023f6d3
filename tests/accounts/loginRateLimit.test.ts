import { registerAccount, TEST_PASSWORD } from '../helpers/api';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';

const MAX_FAILURES = 3;
const MAX_PER_IP = 5;
const WINDOW = 60;

let ctx: TestContext;
let ipCounter = 0;
// Each test gets fresh client addresses, so the per-IP counter of one test never leaks into another.
const freshIp = () => `198.51.100.${++ipCounter}`;

beforeAll(() => {
  ctx = createTestContext(
    testConfig({
      TRUST_PROXY: 'true',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES),
      LOGIN_MAX_ATTEMPTS_PER_IP: String(MAX_PER_IP),
      LOGIN_RATE_WINDOW_SECONDS: String(WINDOW),
    }),
  );
});
afterAll(() => ctx.close());

const login = (email: string, password: string, ip: string) =>
  ctx.http.post('/v1/auth/login').set('X-Forwarded-For', ip).send({ email, password });

/** A fresh account's email; its password is TEST_PASSWORD. */
const newAccount = async (): Promise<string> => (await registerAccount(ctx.http, { name: 'Rate Limited' })).email;

function expect429(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }) {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: 429, code: 'rate_limited' });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(WINDOW);
  expect(res.body.retry_after_seconds).toBe(retryAfter);
}

describe('login rate limiting per account', () => {
  it(`locks an account after ${MAX_FAILURES} failures, even for the right password and from other addresses`, async () => {
    const email = await newAccount();
    for (let i = 0; i < MAX_FAILURES; i++) expect((await login(email, 'wrong password', freshIp())).status).toBe(401);
    expect429(await login(email, TEST_PASSWORD, freshIp()));
    expect429(await login(email.toUpperCase(), TEST_PASSWORD, freshIp()));
  });

  it('leaves other accounts alone', async () => {
    const locked = await newAccount();
    const other = await newAccount();
    for (let i = 0; i < MAX_FAILURES; i++) await login(locked, 'wrong password', freshIp());
    expect429(await login(locked, TEST_PASSWORD, freshIp()));
    expect((await login(other, TEST_PASSWORD, freshIp())).status).toBe(200);
  });

  it('starts counting again after a successful login', async () => {
    const email = await newAccount();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MAX_FAILURES - 1; i++) expect((await login(email, 'wrong password', freshIp())).status).toBe(401);
      expect((await login(email, TEST_PASSWORD, freshIp())).status).toBe(200);
    }
  });

  it('limits addresses without an account exactly like real ones (no enumeration through the limit)', async () => {
    const email = uniqueEmail('nobody');
    for (let i = 0; i < MAX_FAILURES; i++) expect((await login(email, 'wrong password', freshIp())).status).toBe(401);
    expect429(await login(email, 'wrong password', freshIp()));
  });

  it('does not let parallel guesses slip past the limit', async () => {
    const email = await newAccount();
    const guesses = await Promise.all(Array.from({ length: MAX_FAILURES + 3 }, () => login(email, 'wrong password', freshIp())));
    const statuses = guesses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(MAX_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('login rate limiting per IP', () => {
  it(`allows ${MAX_PER_IP} attempts per address across accounts, then 429; other addresses are unaffected`, async () => {
    const email = await newAccount();
    const ip = freshIp();
    for (let i = 0; i < MAX_PER_IP - 1; i++) expect((await login(uniqueEmail('spray'), 'guess', ip)).status).toBe(401);
    // Successful logins count too: the limit is on attempts, not only failures.
    expect((await login(email, TEST_PASSWORD, ip)).status).toBe(200);
    expect429(await login(email, TEST_PASSWORD, ip));
    expect429(await login(uniqueEmail('spray'), 'guess', ip));
    expect((await login(email, TEST_PASSWORD, freshIp())).status).toBe(200);
  });

  it('keys on the client address from X-Forwarded-For when TRUST_PROXY is set', async () => {
    const ip = freshIp();
    for (let i = 0; i < MAX_PER_IP; i++) await login(uniqueEmail('spray'), 'guess', `${ip}, 10.0.0.1`);
    expect429(await login(uniqueEmail('spray'), 'guess', ip));
  });
});
