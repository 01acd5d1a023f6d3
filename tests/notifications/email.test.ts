import { randomUUID } from 'node:crypto';
import { startOutboxDispatcher, type OutboxDispatcher } from '../../src/notifications/dispatcher';
import { notify } from '../../src/notifications/notify';
import { sendAccountEmail } from '../../src/notifications/accountEmail';
import { createEmailSender, startEmailLane, type EmailLaneOptions } from '../../src/notifications/email/emailLane';
import { createSmtpMailer, type Mailer } from '../../src/notifications/email/mailer';
import { startMailpit, type Mailpit } from '../../src/infra/mailpit';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { mailpitClient } from '../helpers/mailpit';
import { freePort } from '../helpers/server';
import { readTestEnvironment } from '../helpers/testEnv';
import { eventually } from '../helpers/wait';

/**
 * Email from the outbox, against the run's real Mailpit (what was sent is read from its HTTP API): one email
 * per notification however often it is notified or however many dispatchers race, retried while SMTP is
 * down, parked after the last attempt, preferences and the unsubscribe link honoured, essential mail always.
 */
const env = readTestEnvironment();
const mail = mailpitClient();
let ctx: TestContext;
const dispatchers: OutboxDispatcher[] = [];
const mailers: Mailer[] = [];
const ownMailpits: Mailpit[] = [];

beforeAll(() => {
  ctx = createTestContext(testConfig({ SMTP_URL: env.smtpUrl, OUTBOX_POLL_INTERVAL: '50ms', PUBLIC_API_URL: 'http://api.example.test' }));
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  for (const m of mailers.splice(0)) m.close();
  await Promise.all(ownMailpits.splice(0).map((m) => m.stop()));
});
afterAll(() => ctx.close());

/**
 * Each test's notification keys start with its own scope and its lanes take only those rows, so a test
 * that breaks SMTP on purpose never delays or steals another test file's email.
 */
function newScope() {
  const scope = `t-${randomUUID()}`;
  return { key: (rest: string) => `${scope}:${rest}`, keyPrefix: `email:${scope}:` };
}

function startDispatcher(email: EmailLaneOptions & { keyPrefix: string }): OutboxDispatcher {
  const d = startOutboxDispatcher(ctx.deps, { email: { pollIntervalMs: 50, retryBaseMs: 100, ...email } });
  dispatchers.push(d);
  return d;
}

function mailerFor(smtpUrl: string): Mailer {
  const m = createSmtpMailer(smtpUrl);
  mailers.push(m);
  return m;
}

const pending = (keyPrefix: string) => ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).whereNull('delivered_at').first();
const emailRow = (key: string) => ctx.deps.db('outbox').where({ dedupe_key: `email:${key}` }).first();

async function inbox(address: string, count: number) {
  return eventually(async () => {
    const found = await mail.to(address);
    return found.length >= count && found;
  }, 15_000, `${count} email(s) to ${address}`);
}

/** Lets the lane run past `row` being settled, then shows everything that reached `address`. */
async function settledInbox(address: string, key: string) {
  await eventually(async () => (await emailRow(key))?.delivered_at, 15_000, `email ${key} settled`);
  return mail.to(address);
}

describe('one email per notification', () => {
  it('sends a pledge notice to the creator with the right recipient, subject, money and unsubscribe header', async () => {
    const creator = await makeUser(ctx.deps, { role: 'creator', name: 'Ada Creator' });
    const { key: scoped, keyPrefix } = newScope();
    const key = scoped('pledge_received');
    startDispatcher({ keyPrefix });
    await notify(ctx.deps.db, {
      userId: creator.id,
      type: 'pledge_received',
      title: 'New pledge on Solar Kettle',
      body: 'A backer pledged 2500 USD cents.',
      data: { campaign_id: randomUUID(), pledge_id: randomUUID(), amount_cents: 123456, currency: 'USD' },
      dedupeKey: key,
    });

    const [summary] = await inbox(creator.email, 1);
    const message = await mail.message(summary!.ID);
    expect(message.To.map((t) => t.Address)).toEqual([creator.email]);
    expect(message.Subject).toBe('New pledge on Solar Kettle');
    expect(message.Text).toContain('Hi Ada Creator,');
    expect(message.Text).toContain('A backer pledged $1,234.56 to your campaign.');
    expect(message.HTML).toContain('A backer pledged $1,234.56 to your campaign.');
    const headers = await mail.headers(summary!.ID);
    expect(headers['List-Unsubscribe']?.[0]).toMatch(/^<http:\/\/api\.example\.test\/v1\/email\/unsubscribe\?token=[^>]+>$/);
    expect(headers['List-Unsubscribe-Post']).toEqual(['List-Unsubscribe=One-Click']);
    const row = await emailRow(key);
    expect(message.MessageID).toBe(`outbox-${row.id}@pledgeflow.localhost`);
    expect(row).toMatchObject({ topic: 'notification_email', attempts: 1, last_error: null });
  });

  it('notified twice with the same key, it is emailed once', async () => {
    const backer = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    const key = scoped('payment_failed:1');
    const n = { userId: backer.id, type: 'payment_failed', title: 'Your pledge could not be charged', body: 'Update your card.', data: {}, dedupeKey: key };
    expect(await notify(ctx.deps.db, n)).toBe(true);
    expect(await notify(ctx.deps.db, n)).toBe(false);
    startDispatcher({ keyPrefix });
    expect(await settledInbox(backer.email, key)).toHaveLength(1);
  });

  it('three dispatchers racing over 30 notifications send each exactly once', async () => {
    const user = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    for (let i = 0; i < 30; i += 1) {
      await notify(ctx.deps.db, { userId: user.id, type: 'campaign_succeeded', title: `Race ${i}`, dedupeKey: scoped(String(i)) });
    }
    // Small batches so the three really interleave over the 30 rows.
    for (let i = 0; i < 3; i += 1) startDispatcher({ keyPrefix, batchSize: 3, concurrency: 2 });
    await eventually(async () => !(await pending(keyPrefix)), 20_000);
    const received = await mail.to(user.email);
    expect(received).toHaveLength(30);
    expect(new Set(received.map((m) => m.Subject)).size).toBe(30);
    expect(new Set(received.map((m) => m.MessageID)).size).toBe(30);
  });
});

describe('a dispatcher that stops half-way', () => {
  it('loses nothing: rows it claimed but never sent go out once its lease runs out', async () => {
    const user = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    const key = scoped('drop_won');
    await notify(ctx.deps.db, { userId: user.id, type: 'drop_won', title: 'You won the drop', data: { drop_id: randomUUID(), claim_expires_at: '2026-12-24T18:00:00.000Z' }, dedupeKey: key });
    // A dispatcher whose SMTP hand-over never completes: it is as good as dead while holding its claim.
    const stuck = createEmailSender(ctx.deps, { send: () => new Promise(() => undefined), close: () => undefined }, { keyPrefix, leaseMs: 1_000 });
    void stuck.round();
    await eventually(async () => (await emailRow(key))?.attempts === 1);
    const live = createEmailSender(ctx.deps, mailerFor(env.smtpUrl), { keyPrefix, leaseMs: 1_000 });
    expect(await live.round()).toBe(0); // still leased to the stuck one
    await eventually(async () => (await live.round()) > 0, 5_000, 'the lease to run out');
    const received = await settledInbox(user.email, key);
    expect(received).toHaveLength(1);
    const message = await mail.message(received[0]!.ID);
    expect(message.Text).toContain('Claim it before Thursday, 24 December 2026 at 18:00 UTC.');
    expect((await emailRow(key)).attempts).toBe(2);
  });

  it('a send the server accepted is never sent again once marked, even if a later round of the batch fails', async () => {
    const user = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    for (let i = 0; i < 4; i += 1) await notify(ctx.deps.db, { userId: user.id, type: 'campaign_failed', title: `Marked ${i}`, dedupeKey: scoped(String(i)) });
    // The SMTP connection breaks after two messages of the batch were accepted.
    const real = mailerFor(env.smtpUrl);
    let sent = 0;
    const flaky: Mailer = {
      send: async (m) => {
        if (sent >= 2) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        sent += 1;
        await real.send(m);
      },
      close: () => undefined,
    };
    await createEmailSender(ctx.deps, flaky, { keyPrefix, concurrency: 1, retryBaseMs: 10 }).round();
    const rows = await ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).orderBy('id');
    expect(rows.map((r) => [r.delivered_at !== null, r.attempts])).toEqual([[true, 1], [true, 1], [false, 1], [false, 1]]);
    const good = createEmailSender(ctx.deps, real, { keyPrefix, retryBaseMs: 10 });
    await eventually(async () => {
      await good.round();
      return !(await pending(keyPrefix));
    });
    const received = await mail.to(user.email);
    expect(received.map((m) => m.Subject).sort()).toEqual(['Marked 0', 'Marked 1', 'Marked 2', 'Marked 3']);
  });
});

describe('SMTP outages', () => {
  it('retries while the SMTP server is down and delivers once it is back', async () => {
    const [smtpPort, uiPort] = [await freePort(), await freePort()];
    const own = await startMailpit({ smtpPort, uiPort });
    await own.stop();
    const user = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    const key = scoped('payment_reminder:1');
    await notify(ctx.deps.db, { userId: user.id, type: 'payment_reminder', title: 'Update your payment method to keep your pledge', body: 'Your pledge of $40.00 could not be charged.', dedupeKey: key });
    startDispatcher({ keyPrefix, mailer: mailerFor(own.smtpUrl), retryBaseMs: 100, retryMaxMs: 400 });

    const failing = await eventually(async () => {
      const r = await emailRow(key);
      return r.attempts >= 3 && r;
    }, 15_000, 'three failed attempts');
    expect(failing.delivered_at).toBeNull();
    expect(failing.last_error).toMatch(/ECONNREFUSED/);

    const back = await startMailpit({ smtpPort, uiPort });
    ownMailpits.push(back);
    await eventually(async () => (await emailRow(key)).delivered_at, 15_000, 'delivery after the server came back');
    const received = await mailpitClient(back.httpUrl).to(user.email);
    expect(received.map((m) => m.Subject)).toEqual(['Update your payment method to keep your pledge']);
  });

  it('parks an email after its last attempt, with the error kept', async () => {
    const user = await makeUser(ctx.deps);
    const { key: scoped, keyPrefix } = newScope();
    const key = scoped('drop_lost');
    await notify(ctx.deps.db, { userId: user.id, type: 'drop_lost', title: 'The drop is over', dedupeKey: key });
    const closedPort = await freePort();
    startDispatcher({ keyPrefix, mailer: mailerFor(`smtp://127.0.0.1:${closedPort}`), retryBaseMs: 20, maxAttempts: 3 });
    const parked = await eventually(async () => {
      const r = await emailRow(key);
      return r.attempts === 3 && Number(r.next_attempt_at) === Infinity && r;
    }, 10_000, 'the row parked');
    expect(parked.delivered_at).toBeNull();
    expect(parked.last_error).toMatch(/ECONNREFUSED/);
  });
});

describe('without SMTP', () => {
  it('a worker with no SMTP_URL says email is off and leaves the emails queued, not crashing', async () => {
    const { key: scoped, keyPrefix } = newScope();
    const user = await makeUser(ctx.deps);
    await notify(ctx.deps.db, { userId: user.id, type: 'drop_closed', title: 'The drop has ended', dedupeKey: scoped('closed') });
    const lines: string[] = [];
    const logger = { child: () => logger, warn: (msg: string) => lines.push(msg), info: () => undefined, error: () => undefined };
    const lane = startEmailLane({ ...ctx.deps, config: { ...ctx.deps.config, SMTP_URL: undefined }, logger: logger as unknown as typeof ctx.deps.logger }, { keyPrefix, pollIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    await lane.stop();
    expect(lines).toEqual(['email is off: SMTP_URL is not set; emails stay queued in the outbox until it is']);
    expect(await emailRow(scoped('closed'))).toMatchObject({ attempts: 0, delivered_at: null });
  });
});

describe('preferences, unsubscribe links and essential mail', () => {
  it('an opted-out user gets no non-essential mail but still gets essential mail', async () => {
    const user = await makeUser(ctx.deps);
    const put = await ctx.http.put('/v1/me/email-preferences').set('Authorization', user.auth).send({ categories: { campaign_updates: false } });
    expect(put.status).toBe(200);
    expect(put.body.categories).toEqual({ campaign_updates: false, pledge_activity: true, drops: true, other: true });
    expect((await ctx.http.get('/v1/me/email-preferences').set('Authorization', user.auth)).body.categories.campaign_updates).toBe(false);

    const { key: scoped, keyPrefix } = newScope();
    const outcome = scoped('campaign_failed');
    const charge = scoped('pledge_dropped');
    await notify(ctx.deps.db, { userId: user.id, type: 'campaign_failed', title: '"Kettle" did not reach its goal', dedupeKey: outcome });
    await notify(ctx.deps.db, { userId: user.id, type: 'pledge_dropped', title: 'Your pledge was dropped', dedupeKey: charge });
    startDispatcher({ keyPrefix });
    await settledInbox(user.email, outcome);
    const received = await settledInbox(user.email, charge);
    expect(received.map((m) => m.Subject)).toEqual(['Your pledge was dropped']);
    expect((await emailRow(outcome)).last_error).toBe('skipped: opted out of campaign_updates');
    // Essential mail carries no unsubscribe header.
    expect((await mail.headers(received[0]!.ID))['List-Unsubscribe']).toBeUndefined();
  });

  it('refuses unknown categories in a preferences update', async () => {
    const user = await makeUser(ctx.deps);
    const res = await ctx.http.put('/v1/me/email-preferences').set('Authorization', user.auth).send({ categories: { payments: false } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('the unsubscribe link works without signing in; a tampered token is refused', async () => {
    const user = await makeUser(ctx.deps, { role: 'creator' });
    const { key: scoped, keyPrefix } = newScope();
    await notify(ctx.deps.db, { userId: user.id, type: 'pledge_received', title: 'New pledge', data: { amount_cents: 500, currency: 'EUR' }, dedupeKey: scoped('first') });
    startDispatcher({ keyPrefix });
    const [summary] = await inbox(user.email, 1);
    const header = (await mail.headers(summary!.ID))['List-Unsubscribe']![0]!;
    const url = new URL(header.slice(1, -1));
    const token = url.searchParams.get('token')!;
    expect((await mail.message(summary!.ID)).Text).toContain(`Unsubscribe from new-pledge emails: ${header.slice(1, -1)}`);

    const page = await ctx.http.get('/v1/email/unsubscribe').query({ token });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post"');

    const [userPart, , sig] = token.split('.');
    for (const bad of [`${userPart}.pledge_activity.${sig!.slice(0, -2)}AA`, `${userPart}.drops.${sig}`, `${randomUUID()}.pledge_activity.${sig}`, 'nonsense']) {
      const refused = await ctx.http.post('/v1/email/unsubscribe').query({ token: bad });
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await ctx.http.get('/v1/me/email-preferences').set('Authorization', user.auth)).body.categories.pledge_activity).toBe(true);

    // The one-click POST a mail client sends (RFC 8058): no bearer token, a form body.
    const done = await ctx.http.post('/v1/email/unsubscribe').query({ token }).type('form').send('List-Unsubscribe=One-Click');
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ unsubscribed: 'pledge_activity' });
    expect((await ctx.http.get('/v1/me/email-preferences').set('Authorization', user.auth)).body.categories).toMatchObject({ pledge_activity: false, drops: true });

    const next = scoped('next');
    await notify(ctx.deps.db, { userId: user.id, type: 'pledge_received', title: 'Another pledge', dedupeKey: next });
    expect(await settledInbox(user.email, next)).toHaveLength(1);
    expect((await emailRow(next)).last_error).toBe('skipped: opted out of pledge_activity');
  });

  it('account mail is essential, sent whatever the preferences, and its link leaves the outbox once sent', async () => {
    const user = await makeUser(ctx.deps);
    await ctx.http
      .put('/v1/me/email-preferences')
      .set('Authorization', user.auth)
      .send({ categories: { campaign_updates: false, pledge_activity: false, drops: false, other: false } })
      .expect(200);
    const tokenId = randomUUID();
    const link = `http://app.example.test/verify-email?token=${tokenId}`;
    await ctx.deps.db.transaction((trx) =>
      sendAccountEmail(trx, { userId: user.id, to: user.email, kind: 'verify_email', link, expiresAt: new Date('2026-12-05T09:30:00Z'), dedupeKey: `verify_email:${tokenId}` }),
    );
    expect(await sendAccountEmail(ctx.deps.db, { userId: user.id, to: user.email, kind: 'verify_email', link, dedupeKey: `verify_email:${tokenId}` })).toBe(false);
    startDispatcher({ keyPrefix: `email:account:verify_email:${tokenId}` });
    const received = await settledInbox(user.email, `account:verify_email:${tokenId}`);
    expect(received).toHaveLength(1);
    const message = await mail.message(received[0]!.ID);
    expect(message.Subject).toBe('Confirm your email address');
    expect(message.Text).toContain(`Confirm my address: ${link}`);
    expect(message.Text).toContain('Link expires: Saturday, 5 December 2026 at 09:30 UTC');
    expect(message.HTML).toContain(`href="${link}"`);
    expect((await emailRow(`account:verify_email:${tokenId}`)).payload.account).toEqual({ kind: 'verify_email', expires_at: '2026-12-05T09:30:00.000Z' });
  });
});
