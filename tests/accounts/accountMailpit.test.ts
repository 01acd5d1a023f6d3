import { deliverEmailsOnce } from '../../src/notifications/email/emailLane';
import { registerAccount, TEST_PASSWORD } from '../helpers/api';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { mailpitClient } from '../helpers/mailpit';
import { expectProblem } from '../helpers/problems';
import { readTestEnvironment } from '../helpers/testEnv';

/**
 * The whole way: the link a person gets in their mailbox. The email lane sends this account's mail over SMTP
 * to the run's Mailpit, and the token is read from the delivered message, not from our own rows.
 */
let ctx: TestContext;
const mailpit = mailpitClient();
beforeAll(() => {
  ctx = createTestContext(testConfig({ SMTP_URL: readTestEnvironment().smtpUrl }));
});
afterAll(() => ctx.close());

/** Sends the newest queued account mail of `kind` to `email` (only that row: other files' rows are theirs). */
async function deliver(email: string, kind: string): Promise<void> {
  const row = (await ctx.deps
    .db('outbox')
    .where({ topic: 'notification_email' })
    .whereRaw(`payload->>'to' = ? AND payload->'account'->>'kind' = ?`, [email, kind])
    .orderBy('id', 'desc')
    .first('dedupe_key')) as { dedupe_key: string };
  expect(await deliverEmailsOnce(ctx.deps, { keyPrefix: row.dedupe_key })).toBe(1);
}

/** The token in the link of the newest message to `email` whose subject matches. */
async function tokenFromMailbox(email: string, subject: RegExp): Promise<string> {
  const summaries = (await mailpit.to(email)).filter((m) => subject.test(m.Subject));
  expect(summaries.length).toBeGreaterThan(0);
  const message = await mailpit.message(summaries[summaries.length - 1]!.ID);
  const match = /https?:\/\/\S+?[?&]token=([A-Za-z0-9._~%-]+)/.exec(message.Text);
  if (!match) throw new Error(`no link in the mail:\n${message.Text}`);
  return decodeURIComponent(match[1]!);
}

it('the verification link from the mailbox verifies the address, once', async () => {
  const account = await registerAccount(ctx.http);
  await deliver(account.email, 'verify_email');
  const token = await tokenFromMailbox(account.email, /.+/);
  const res = await ctx.http.post('/v1/auth/verify-email').send({ token });
  expect(res.status).toBe(200);
  expect(res.body.email_verified).toBe(true);
  expectProblem(await ctx.http.post('/v1/auth/verify-email').send({ token }), 409, 'token_used');
});

it('the reset link from the mailbox sets a new password, and the mailbox is told of the change', async () => {
  const account = await registerAccount(ctx.http);
  expect((await ctx.http.post('/v1/auth/password-reset').send({ email: account.email })).status).toBe(202);
  await deliver(account.email, 'password_reset');
  const before = (await mailpit.to(account.email)).length;
  const token = await tokenFromMailbox(account.email, /password/i);
  expect((await ctx.http.post('/v1/auth/password-reset/confirm').send({ token, password: 'a new passphrase' })).status).toBe(204);
  expect((await ctx.http.post('/v1/auth/login').send({ email: account.email, password: 'a new passphrase' })).status).toBe(200);
  expectProblem(await ctx.http.post('/v1/auth/login').send({ email: account.email, password: TEST_PASSWORD }), 401, 'invalid_credentials');
  await deliver(account.email, 'password_changed');
  expect((await mailpit.to(account.email)).length).toBe(before + 1);
});
