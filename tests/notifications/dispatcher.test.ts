import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { startOutboxDispatcher, type OutboxDispatcher } from '../../src/notifications/dispatcher';
import { enqueueCreatorWebhook, notify } from '../../src/notifications/notify';
import { enqueueCampaignEvent } from '../../src/campaigns/events';
import { createDb } from '../../src/infra/db';
import { verifyWebhookSignature } from '../../src/notifications/webhookSignature';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeCampaign, makeUser } from '../helpers/fixtures';
import { listen } from '../helpers/server';
import { connectSse, type SseClient } from '../helpers/sse';
import { eventually } from '../helpers/wait';

/**
 * The outbox dispatcher: pushes reach SSE clients, creator webhooks arrive signed, failures are retried
 * with backoff, concurrent dispatchers never deliver a row twice, and a stopped one loses nothing.
 */
const SECRET = 'whsec_dispatcher_test';

interface Delivery {
  eventId: string;
  body: string;
  headers: http.IncomingHttpHeaders;
  signatureValid: boolean;
}

/** A creator's webhook endpoint; `answer` decides the status code per request (default 200). */
async function webhookReceiver(answer: (eventId: string, attempt: number) => number | Promise<number> = () => 200) {
  const received: Delivery[] = [];
  const attempts = new Map<string, number>();
  const server = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const eventId = String(req.headers['pledgeflow-event-id']);
      const attempt = (attempts.get(eventId) ?? 0) + 1;
      attempts.set(eventId, attempt);
      const status = await answer(eventId, attempt);
      const signatureValid = verifyWebhookSignature({
        secret: SECRET,
        body,
        timestamp: req.headers['pledgeflow-timestamp'] as string | undefined,
        signature: req.headers['pledgeflow-signature'] as string | undefined,
      }).ok;
      if (status >= 200 && status < 300) received.push({ eventId, body, headers: req.headers, signatureValid });
      res.writeHead(status).end();
    });
  });
  return { ...server, received, attempts };
}

let ctx: TestContext;
const dispatchers: OutboxDispatcher[] = [];
const servers: { close(): Promise<void> }[] = [];
const clients: SseClient[] = [];

beforeAll(() => {
  ctx = createTestContext(testConfig({ SSE_KEEPALIVE: '1s', OUTBOX_POLL_INTERVAL: '50ms' }));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => ctx.close());

function start(options: Parameters<typeof startOutboxDispatcher>[1] = {}): OutboxDispatcher {
  const d = startOutboxDispatcher(ctx.deps, { retryBaseMs: 50, ...options });
  dispatchers.push(d);
  return d;
}

async function campaignWithHook(url: string): Promise<string> {
  return (await makeCampaign(ctx.deps, { webhookUrl: `${url}/hooks`, webhookSecret: SECRET })).id;
}

const outboxRow = (key: string) => ctx.deps.db('outbox').where({ dedupe_key: `webhook:${key}` }).first();

describe('notification pushes', () => {
  it('delivers a new notification to the user\'s SSE stream on /v1/me/notifications/stream', async () => {
    const server = await listen(ctx.app);
    servers.push(server);
    const { id: userId, auth } = await makeUser(ctx.deps);
    const { id: other } = await makeUser(ctx.deps);
    const client = await connectSse(`${server.url}/v1/me/notifications/stream`, { Authorization: auth });
    clients.push(client);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    start();

    const dedupeKey = `push:${randomUUID()}`;
    await ctx.deps.db.transaction(async (trx) => {
      await notify(trx, { userId: other, type: 'pledge_received', title: 'not for this client', dedupeKey: `push:${randomUUID()}` });
      await notify(trx, { userId, type: 'pledge_received', title: 'New pledge: $25.00', data: { amount_cents: 2500 }, dedupeKey });
    });

    const [event] = await client.waitForEvents(1);
    const stored = await ctx.deps.db('notifications').where({ user_id: userId }).first();
    expect(event).toMatchObject({ event: 'notification', id: stored.id });
    expect(JSON.parse(event!.data)).toEqual({
      id: stored.id,
      type: 'pledge_received',
      title: 'New pledge: $25.00',
      body: '',
      data: { amount_cents: 2500 },
      created_at: stored.created_at.toISOString(),
      read_at: null,
    });
    await eventually(async () => (await ctx.deps.db('outbox').where({ dedupe_key: `notification:${dedupeKey}` }).first())?.delivered_at);
    // Only the addressee's notification reached this stream.
    await new Promise((r) => setTimeout(r, 200));
    expect(client.events).toHaveLength(1);
  });

  it('replays notifications missed while disconnected when the stream resumes with Last-Event-ID', async () => {
    const server = await listen(ctx.app);
    servers.push(server);
    const { id: userId, auth: authorization } = await makeUser(ctx.deps);
    const auth = { Authorization: authorization };
    const first = await connectSse(`${server.url}/v1/me/notifications/stream`, auth);
    clients.push(first);
    start();
    await notify(ctx.deps.db, { userId, type: 't', title: 'one', dedupeKey: `resume:${randomUUID()}` });
    const [one] = await first.waitForEvents(1);
    first.close();

    // Missed while away: written and delivered with no stream open.
    await notify(ctx.deps.db, { userId, type: 't', title: 'two', dedupeKey: `resume:${randomUUID()}` });
    await notify(ctx.deps.db, { userId, type: 't', title: 'three', dedupeKey: `resume:${randomUUID()}` });
    await eventually(async () => !(await ctx.deps.db('outbox').where('dedupe_key', 'like', 'notification:resume:%').whereNull('delivered_at').first()));

    const again = await connectSse(`${server.url}/v1/me/notifications/stream`, { ...auth, 'Last-Event-ID': one!.id! });
    clients.push(again);
    const replayed = await again.waitForEvents(2);
    expect(replayed.map((e) => JSON.parse(e.data).title)).toEqual(['two', 'three']);
    await notify(ctx.deps.db, { userId, type: 't', title: 'four', dedupeKey: `resume:${randomUUID()}` });
    const all = await again.waitForEvents(3);
    expect(all.map((e) => JSON.parse(e.data).title)).toEqual(['two', 'three', 'four']);
  });

  it('refuses the stream without a token', async () => {
    const res = await ctx.http.get('/v1/me/notifications/stream');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});

describe('creator webhooks', () => {
  it('POSTs the event to the campaign\'s URL with a valid HMAC signature and a stable event id', async () => {
    const receiver = await webhookReceiver();
    servers.push(receiver);
    const campaignId = await campaignWithHook(receiver.url);
    const key = `pledge_created:${randomUUID()}`;
    await enqueueCreatorWebhook(ctx.deps.db, { campaignId, event: 'pledge.created', data: { pledge_id: 'p-1', amount_cents: 2500 }, dedupeKey: key });
    const queued = await outboxRow(key);
    start();

    await eventually(() => receiver.received.length === 1);
    const [delivery] = receiver.received;
    expect(delivery!.signatureValid).toBe(true);
    expect(delivery!.eventId).toBe(queued.payload.event_id);
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.headers['pledgeflow-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(JSON.parse(delivery!.body)).toEqual({
      id: queued.payload.event_id,
      type: 'pledge.created',
      created_at: queued.created_at.toISOString(),
      campaign_id: campaignId,
      data: { pledge_id: 'p-1', amount_cents: 2500 },
    });
    // A receiver with the wrong secret, or a tampered body, would reject it.
    const ts = delivery!.headers['pledgeflow-timestamp'] as string;
    const sig = delivery!.headers['pledgeflow-signature'] as string;
    expect(verifyWebhookSignature({ secret: 'whsec_wrong', body: delivery!.body, timestamp: ts, signature: sig })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature({ secret: SECRET, body: `${delivery!.body} `, timestamp: ts, signature: sig }).ok).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body: delivery!.body, timestamp: ts, signature: sig, nowMs: Date.now() + 3_600_000 })).toEqual({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });

    const row = await eventually(async () => {
      const r = await outboxRow(key);
      return r.delivered_at && r;
    });
    expect(row).toMatchObject({ attempts: 1, last_error: null });
  });

  it('retries a receiver that fails twice, delivering the event once with the same event id and marking it once', async () => {
    const receiver = await webhookReceiver((_id, attempt) => (attempt <= 2 ? 503 : 200));
    servers.push(receiver);
    const campaignId = await campaignWithHook(receiver.url);
    const key = `flaky:${randomUUID()}`;
    await enqueueCreatorWebhook(ctx.deps.db, { campaignId, event: 'pledge.created', data: {}, dedupeKey: key });
    const { payload } = await outboxRow(key);
    start();

    await eventually(() => receiver.received.length === 1);
    const row = await eventually(async () => {
      const r = await outboxRow(key);
      return r.delivered_at && r;
    });
    expect(receiver.attempts.get(payload.event_id)).toBe(3);
    expect(receiver.received.map((d) => d.eventId)).toEqual([payload.event_id]);
    expect(row).toMatchObject({ attempts: 3, last_error: 'receiver answered HTTP 503' });
    // Delivered rows are never picked up again.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.attempts.get(payload.event_id)).toBe(3);
  });

  it('parks a row after the last attempt, keeping its error, and counts the outcomes', async () => {
    const receiver = await webhookReceiver(() => 500);
    servers.push(receiver);
    const campaignId = await campaignWithHook(receiver.url);
    const key = `broken:${randomUUID()}`;
    await enqueueCreatorWebhook(ctx.deps.db, { campaignId, event: 'pledge.created', data: {}, dedupeKey: key });
    start({ maxAttempts: 3, retryBaseMs: 20 });

    const row = await eventually(async () => {
      const r = await outboxRow(key);
      return r.attempts === 3 && r;
    });
    expect(row).toMatchObject({ delivered_at: null, last_error: 'receiver answered HTTP 500' });
    // parked: never due again
    expect(Number(row.next_attempt_at)).toBe(Infinity);
    await new Promise((r) => setTimeout(r, 200));
    expect((await outboxRow(key)).attempts).toBe(3);
    const metrics = await ctx.deps.metrics.registry.metrics();
    expect(metrics).toMatch(/outbox_deliveries_total\{topic="creator_webhook",result="gave_up"\} [1-9]/);
    expect(metrics).toMatch(/outbox_deliveries_total\{topic="creator_webhook",result="failed"\} [1-9]/);
  });

  it('two dispatchers running at once deliver each of 200 rows exactly once', async () => {
    const receiver = await webhookReceiver();
    servers.push(receiver);
    const campaignId = await campaignWithHook(receiver.url);
    const prefix = `pair:${randomUUID()}`;
    await ctx.deps.db.transaction(async (trx) => {
      for (let i = 0; i < 200; i++) await enqueueCreatorWebhook(trx, { campaignId, event: 'pledge.created', data: { n: i }, dedupeKey: `${prefix}:${i}` });
    });
    start({ batchSize: 10, concurrency: 3 });
    start({ batchSize: 10, concurrency: 3 });

    await eventually(() => receiver.received.length >= 200, 30_000, '200 deliveries');
    await eventually(async () => !(await ctx.deps.db('outbox').where('dedupe_key', 'like', `webhook:${prefix}:%`).whereNull('delivered_at').first()));
    await new Promise((r) => setTimeout(r, 300));
    const ids = receiver.received.map((d) => d.eventId);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    expect(new Set(receiver.received.map((d) => JSON.parse(d.body).data.n))).toEqual(new Set(Array.from({ length: 200 }, (_, i) => i)));
    expect(receiver.received.every((d) => d.signatureValid)).toBe(true);
  });

  it('a dispatcher stopped mid-way leaves the undelivered rows for the next one: none lost, none sent twice', async () => {
    const receiver = await webhookReceiver(async () => {
      await new Promise((r) => setTimeout(r, 10));
      return 200;
    });
    servers.push(receiver);
    const campaignId = await campaignWithHook(receiver.url);
    const prefix = `stop:${randomUUID()}`;
    await ctx.deps.db.transaction(async (trx) => {
      for (let i = 0; i < 200; i++) await enqueueCreatorWebhook(trx, { campaignId, event: 'pledge.created', data: { n: i }, dedupeKey: `${prefix}:${i}` });
    });
    const rows = () => ctx.deps.db('outbox').where('dedupe_key', 'like', `webhook:${prefix}:%`);

    const first = startOutboxDispatcher(ctx.deps, { batchSize: 10, concurrency: 1 });
    await eventually(() => receiver.received.length >= 20);
    await first.stop();
    // Stopping finished the in-flight batch: whatever the receiver accepted is marked, the rest is pending.
    const deliveredAtStop = receiver.received.length;
    expect(deliveredAtStop).toBeLessThan(200);
    const pending = await rows().clone().whereNull('delivered_at');
    expect(pending.length).toBeGreaterThan(0);
    // Every delivery the receiver accepted is marked delivered. (Other test files' dispatchers share this
    // database and may hold a row in flight for a moment, hence the short wait.)
    const accepted = receiver.received.slice(0, deliveredAtStop).map((d) => d.eventId);
    await eventually(async () => {
      const marked = new Set((await rows().clone().whereNotNull('delivered_at')).map((r) => r.payload.event_id));
      return accepted.every((id) => marked.has(id));
    }, 3_000, 'accepted deliveries marked');

    start({ batchSize: 50, concurrency: 10 });
    await eventually(async () => !(await rows().clone().whereNull('delivered_at').first()), 30_000, 'all rows delivered');
    const ids = receiver.received.map((d) => d.eventId);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
  });
});

describe('campaign events through the outbox', () => {
  it('publishes a queued campaign event once its transaction commits, to the campaign\'s SSE clients', async () => {
    const server = await listen(ctx.app);
    servers.push(server);
    const { id: campaignId } = await makeCampaign(ctx.deps);
    const client = await connectSse(`${server.url}/v1/campaigns/${campaignId}/events`);
    clients.push(client);
    await client.waitForEvents(2);
    start();

    await expect(
      ctx.deps.db.transaction(async (trx) => {
        await enqueueCampaignEvent(trx, { campaignId, event: { type: 'status', status: 'cancelled' }, dedupeKey: `rolled-back:${campaignId}` });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await ctx.deps.db.transaction(async (trx) => {
      expect(await enqueueCampaignEvent(trx, { campaignId, event: { type: 'status', status: 'succeeded' }, dedupeKey: `decided:${campaignId}` })).toBe(true);
      expect(await enqueueCampaignEvent(trx, { campaignId, event: { type: 'status', status: 'succeeded' }, dedupeKey: `decided:${campaignId}` })).toBe(false);
    });

    const [, , event] = await client.waitForEvents(3);
    expect(event).toMatchObject({ event: 'status', id: expect.stringMatching(/^\d+-\d+$/) });
    expect(JSON.parse(event!.data)).toEqual({ type: 'status', status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 200));
    expect(client.events).toHaveLength(3);
  });
});

describe('resilience', () => {
  it('keeps running through a database outage and stops cleanly', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/nowhere', 1, ctx.deps.logger);
    try {
      const d = startOutboxDispatcher({ ...ctx.deps, db: deadDb }, { pollIntervalMs: 20 });
      await eventually(async () => /outbox_dispatcher_errors_total \d*[1-9]/.test(await ctx.deps.metrics.registry.metrics()));
      await d.stop();
    } finally {
      await deadDb.destroy();
    }
  });
});
