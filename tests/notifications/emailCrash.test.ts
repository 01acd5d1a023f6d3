import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { notify } from '../../src/notifications/notify';
import { createEmailSender } from '../../src/notifications/email/emailLane';
import { createSmtpMailer } from '../../src/notifications/email/mailer';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { mailpitClient } from '../helpers/mailpit';
import { readTestEnvironment } from '../helpers/testEnv';
import { eventually } from '../helpers/wait';
import { entryEnv, repoRoot } from '../startup/processHelpers';

/**
 * A dispatcher process SIGKILLed in the middle of a batch: the emails the server had accepted were marked
 * and are not sent again, the one it was handing over when it died (never accepted) and the rest go out
 * once its lease runs out. Exactly one email per notification in the mailbox.
 */
const env = readTestEnvironment();
let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

/**
 * A TCP relay to the run's Mailpit that lets `messages` SMTP transactions through and then swallows
 * everything from the next DATA command on: that message is never accepted, and its sender waits.
 */
async function relayThatStallsAfter(messages: number) {
  const target = new URL(env.smtpUrl);
  let dataCommands = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    let stalled = false;
    client.on('data', (chunk: Buffer) => {
      if (!stalled && /^DATA\r\n/m.test(chunk.toString('latin1'))) {
        dataCommands += 1;
        stalled = dataCommands > messages;
      }
      if (!stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stalled: () => dataCommands > messages,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

it('a dispatcher killed mid-batch: accepted emails are not resent, the rest arrive once', async () => {
  const user = await makeUser(ctx.deps);
  const scope = `crash-${randomUUID()}`;
  for (let i = 0; i < 6; i += 1) await notify(ctx.deps.db, { userId: user.id, type: 'campaign_succeeded', title: `Crash ${i}`, dedupeKey: `${scope}:${i}` });
  const keyPrefix = `email:${scope}:`;
  const relay = await relayThatStallsAfter(3);
  const loader = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', loader, path.join(__dirname, 'emailLaneProcess.ts'), keyPrefix], {
    env: entryEnv({ DATABASE_URL: ctx.deps.config.DATABASE_URL, SMTP_URL: relay.url, JWT_SECRET: ctx.deps.config.JWT_SECRET }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const mailer = createSmtpMailer(env.smtpUrl);
  try {
    // Three accepted and marked, the fourth stuck in its hand-over: now the process dies.
    await eventually(relay.stalled, 20_000, `the fourth DATA (child stderr: ${stderr})`);
    await eventually(async () => Number((await ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).whereNotNull('delivered_at').count('* as n').first())?.n) === 3);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const rows = await ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).orderBy('id');
    // The whole batch was claimed (attempt 1) by the dead process.
    expect(rows.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1, 1]);

    const survivor = createEmailSender(ctx.deps, mailer, { keyPrefix, leaseMs: 2_000 });
    await eventually(async () => {
      await survivor.round();
      return !(await ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).whereNull('delivered_at').first());
    }, 15_000, 'the survivor to deliver the rest after the lease');
    const received = await mailpitClient().to(user.email);
    expect(received.map((m) => m.Subject).sort()).toEqual(['Crash 0', 'Crash 1', 'Crash 2', 'Crash 3', 'Crash 4', 'Crash 5']);
    const after = await ctx.deps.db('outbox').where('dedupe_key', 'like', `${keyPrefix}%`).orderBy('id');
    expect(after.map((r) => r.attempts)).toEqual([1, 1, 1, 2, 2, 2]);
  } finally {
    child.kill('SIGKILL');
    mailer.close();
    await relay.close();
  }
});
