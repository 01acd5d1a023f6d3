import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { registerAccount, TEST_PASSWORD } from '../helpers/api';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { mailedToken } from './accountMail';

/**
 * Operators come only from the operator command or from a VERIFIED address listed in OPERATOR_EMAILS. The
 * command runs as its own process (as `npm run operator -- ...` does), so this API process learns of its
 * change only through the database: AUTH_CACHE_TTL is 0 here, or the test would wait it out.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

let ctx: TestContext;
let listed: string;
beforeAll(() => {
  listed = uniqueEmail('listed');
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: listed, AUTH_CACHE_TTL: '10m' }));
});
afterAll(() => ctx.close());

/** `npm run operator -- <args>` against this run's database: exit code and output. */
async function operatorCommand(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(path.join(root, 'node_modules/.bin/tsx'), ['src/main/operator.ts', ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: ctx.deps.config.DATABASE_URL, REDIS_URL: ctx.deps.config.REDIS_URL, OPERATOR_EMAILS: listed, LOG_LEVEL: 'silent' },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const operatorRead = (auth: string, userId: string) => ctx.http.get(`/v1/operator/users/${userId}`).set('Authorization', auth);

describe('npm run operator', () => {
  it('add makes an existing account an operator at once, list shows it, remove takes it back', async () => {
    const account = await registerAccount(ctx.http, { role: 'creator' });
    expectProblem(await operatorRead(account.auth, account.id), 403, 'forbidden');

    const added = await operatorCommand('add', account.email.toUpperCase());
    expect(added).toMatchObject({ code: 0, out: expect.stringContaining(`${account.email} is an operator`) });
    // The token it already had now carries the role: roles are read per request, not frozen in tokens.
    await eventually(async () => (await operatorRead(account.auth, account.id)).status === 200, 10_000, 'the grant to reach the API');
    expect((await ctx.http.get('/v1/me').set('Authorization', account.auth)).body.role).toBe('operator');
    expect((await operatorCommand('list')).out).toContain(account.email);

    const removed = await operatorCommand('remove', account.email);
    expect(removed.code).toBe(0);
    await eventually(async () => (await operatorRead(account.auth, account.id)).status === 403, 10_000, 'the removal to reach the API');
    expectProblem(await operatorRead(account.auth, account.id), 403, 'forbidden');
    expect((await ctx.http.get('/v1/me').set('Authorization', account.auth)).body.role).toBe('creator');
    expect((await operatorCommand('list')).out).not.toContain(account.email);
  }, 60_000);

  it('refuses unknown addresses and bad usage with exit code 1, creating nothing', async () => {
    const nobody = uniqueEmail('nobody');
    const unknown = await operatorCommand('add', nobody);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/No account has the address/);
    expect(await ctx.deps.db('users').where({ email: nobody }).first()).toBeUndefined();
    expect((await operatorCommand('promote', nobody)).code).toBe(1);
    expect((await operatorCommand()).code).toBe(1);
    expect((await operatorCommand('remove', nobody)).code).toBe(1);
  }, 60_000);
});

describe('OPERATOR_EMAILS', () => {
  it('a listed address registers as what it asked for, and becomes an operator when its owner verifies it', async () => {
    const account = await registerAccount(ctx.http, { email: listed, role: 'merchant' });
    expect(account.role).toBe('merchant');
    expectProblem(await operatorRead(account.auth, account.id), 403, 'forbidden');
    // Someone without the mailbox can't get there: logging in again, asking for another link, all change nothing.
    expect((await ctx.http.post('/v1/auth/login').send({ email: listed, password: TEST_PASSWORD })).body.user.role).toBe('merchant');

    const verified = await ctx.http.post('/v1/auth/verify-email').send({ token: await mailedToken(ctx.deps.db, listed, 'verify_email') });
    expect(verified.status).toBe(200);
    expect(verified.body.role).toBe('operator');
    expect((await ctx.deps.db('users').where({ id: account.id }).first()).role).toBe('operator');
    expect((await operatorRead(account.auth, account.id)).status).toBe(200);
  });
});
