import { randomUUID } from 'node:crypto';
import { campaignEventsChannel, publishCampaignEvent, type CampaignEvent } from '../../src/campaigns/events';
import { pushHub } from '../../src/notifications/push';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeCampaign } from '../helpers/fixtures';
import { listen } from '../helpers/server';
import { connectSse, type SseClient } from '../helpers/sse';
import { eventually } from '../helpers/wait';

/**
 * GET /v1/campaigns/{id}/events across two API replicas (two apps with their own Redis connections and
 * subscriber): snapshots on connect, live events from any replica, keep-alives, and exact resume.
 */
let a: TestContext;
let b: TestContext;
let urlA: string;
const closers: (() => Promise<void> | void)[] = [];
const clients: SseClient[] = [];

beforeAll(async () => {
  const config = testConfig({ SSE_KEEPALIVE: '200ms' });
  a = createTestContext(config);
  b = createTestContext(config);
  const server = await listen(a.app);
  urlA = server.url;
  closers.push(server.close);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  for (const close of closers) await close();
  await a.close();
  await b.close();
});

async function connect(campaignId: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await connectSse(`${urlA}/v1/campaigns/${campaignId}/events`, headers);
  clients.push(client);
  return client;
}

const progress = (pledged: number, backers: number): CampaignEvent => ({ type: 'progress', pledged_cents: pledged, backer_count: backers, percent_funded: Math.floor(pledged / 1000) });

async function liveCampaign(extra: { pledgedCents?: number; backerCount?: number; status?: string } = {}): Promise<string> {
  return (await makeCampaign(a.deps, { goalCents: 100_000, ...extra })).id;
}

describe('campaign event stream', () => {
  it('sends status and progress snapshots on connect', async () => {
    const campaignId = await liveCampaign({ pledgedCents: 25_000, backerCount: 3 });
    const client = await connect(campaignId);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toMatch(/no-cache/);
    const [status, snapshot] = await client.waitForEvents(2);
    expect(status).toMatchObject({ event: 'status', id: '0-0' });
    expect(JSON.parse(status!.data)).toEqual({ type: 'status', status: 'live' });
    expect(snapshot).toMatchObject({ event: 'progress', id: '0-0' });
    expect(JSON.parse(snapshot!.data)).toEqual({ type: 'progress', pledged_cents: 25_000, backer_count: 3, percent_funded: 25 });
  });

  it('a client of replica A receives progress events published through replica B, each with an id', async () => {
    const campaignId = await liveCampaign();
    const client = await connect(campaignId);
    await client.waitForEvents(2);

    const ids = [];
    ids.push(await publishCampaignEvent(b.deps.redis, campaignId, progress(2_500, 1)));
    ids.push(await publishCampaignEvent(b.deps.redis, campaignId, progress(7_500, 2)));
    ids.push(await publishCampaignEvent(b.deps.redis, campaignId, { type: 'status', status: 'succeeded' }));

    const events = (await client.waitForEvents(5)).slice(2);
    expect(events.map((e) => e.event)).toEqual(['progress', 'progress', 'status']);
    expect(events.map((e) => e.id)).toEqual(ids);
    expect(JSON.parse(events[1]!.data)).toEqual({ type: 'progress', pledged_cents: 7_500, backer_count: 2, percent_funded: 7 });
    expect(JSON.parse(events[2]!.data)).toEqual({ type: 'status', status: 'succeeded' });
    // Another campaign's events do not leak into this stream.
    await publishCampaignEvent(b.deps.redis, await liveCampaign(), progress(1, 1));
    await new Promise((r) => setTimeout(r, 150));
    expect(client.events).toHaveLength(5);
  });

  it('sends keep-alive comments while nothing happens', async () => {
    const client = await connect(await liveCampaign());
    await eventually(() => client.comments.filter((c) => c === 'keep-alive').length >= 2, 5_000, 'two keep-alives');
  });

  it('replays exactly the missed events on reconnect with Last-Event-ID, then continues live', async () => {
    const campaignId = await liveCampaign();
    const first = await connect(campaignId);
    await first.waitForEvents(2);
    const seen = await publishCampaignEvent(b.deps.redis, campaignId, progress(1_000, 1));
    await first.waitForEvents(3);
    first.close();

    const missed = [
      await publishCampaignEvent(b.deps.redis, campaignId, progress(2_000, 2)),
      await publishCampaignEvent(b.deps.redis, campaignId, progress(3_000, 3)),
    ];
    const again = await connect(campaignId, { 'Last-Event-ID': seen });
    const replayed = await again.waitForEvents(2);
    expect(replayed.map((e) => e.id)).toEqual(missed);
    expect(replayed.map((e) => JSON.parse(e.data).pledged_cents)).toEqual([2_000, 3_000]);

    const next = await publishCampaignEvent(b.deps.redis, campaignId, progress(4_000, 4));
    const all = await again.waitForEvents(3);
    expect(all.map((e) => e.id)).toEqual([...missed, next]);
    await new Promise((r) => setTimeout(r, 150));
    expect(again.events).toHaveLength(3); // no snapshot, no duplicate
  });

  it('resuming while events keep arriving yields every later event once, in order', async () => {
    const campaignId = await liveCampaign();
    const ids: string[] = [];
    for (let n = 1; n <= 10; n++) ids.push(await publishCampaignEvent(b.deps.redis, campaignId, progress(n, n)));
    const publishing = (async () => {
      for (let n = 11; n <= 100; n++) ids.push(await publishCampaignEvent(b.deps.redis, campaignId, progress(n, n)));
    })();
    const clientsDuringBurst = await Promise.all([ids[9]!, ids[4]!, ids[0]!].map((id) => connect(campaignId, { 'Last-Event-ID': id })));
    await publishing;
    for (const [client, from] of [clientsDuringBurst[0]!, clientsDuringBurst[1]!, clientsDuringBurst[2]!].map((c, i) => [c, [11, 6, 2][i]!] as const)) {
      const events = await client.waitForEvents(101 - from);
      expect(events.map((e) => JSON.parse(e.data).pledged_cents)).toEqual(Array.from({ length: 101 - from }, (_, i) => from + i));
      expect(events.map((e) => e.id)).toEqual(ids.slice(from - 1));
    }
  });

  it('falls back to a fresh snapshot when Last-Event-ID is unknown or no longer kept', async () => {
    const campaignId = await liveCampaign({ pledgedCents: 5_000, backerCount: 1 });
    const latest = await publishCampaignEvent(b.deps.redis, campaignId, progress(5_000, 1));
    const client = await connect(campaignId, { 'Last-Event-ID': '1-0' });
    const [status, snapshot] = await client.waitForEvents(2);
    expect(status).toMatchObject({ event: 'status', id: latest });
    expect(snapshot).toMatchObject({ event: 'progress', id: latest });
    expect(JSON.parse(snapshot!.data)).toMatchObject({ pledged_cents: 5_000, backer_count: 1 });
  });

  it('shares one subscription per channel between local clients and drops it when the last one leaves', async () => {
    const campaignId = await liveCampaign();
    const channel = campaignEventsChannel(campaignId);
    const hub = pushHub(a.deps.redis);
    const one = await connect(campaignId);
    const two = await connect(campaignId);
    await Promise.all([one.waitForEvents(2), two.waitForEvents(2)]);
    expect(hub.activeChannels().filter((c) => c === channel)).toHaveLength(1);
    expect(await a.deps.redis.pubsub('NUMSUB', channel)).toEqual([channel, 1]);

    await publishCampaignEvent(b.deps.redis, campaignId, progress(100, 1));
    await Promise.all([one.waitForEvents(3), two.waitForEvents(3)]);

    one.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.activeChannels()).toContain(channel);
    two.close();
    await eventually(() => !hub.activeChannels().includes(channel), 5_000, 'channel released');
    await eventually(async () => ((await a.deps.redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 0, 5_000, 'redis unsubscribed');
  });

  it('answers 404 for drafts and unknown campaigns, 400 for a malformed id', async () => {
    const draft = await liveCampaign({ status: 'draft' });
    for (const id of [draft, randomUUID()]) {
      const res = await a.http.get(`/v1/campaigns/${id}/events`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'not_found' });
    }
    expect((await a.http.get('/v1/campaigns/not-a-uuid/events')).status).toBe(400);
  });

  it('answers 503 problem+json, not 500, when Redis is unreachable', async () => {
    const campaignId = await liveCampaign();
    const broken = createTestContext(testConfig({ REDIS_URL: 'redis://127.0.0.1:1/0' }));
    broken.deps.redis.on('error', () => undefined);
    try {
      const res = await broken.http.get(`/v1/campaigns/${campaignId}/events`);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      // Redis named as the dependency that is down (issue 11), like every other route's outage answer.
      expect(JSON.parse(res.text)).toMatchObject({ code: 'dependency_unavailable', dependency: 'redis' });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await broken.close();
    }
  });
});
