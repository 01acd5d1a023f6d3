import type { ChainableCommander } from 'ioredis';
import type { Knex } from 'knex';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';

/**
 * Live campaign events for SSE clients on every API replica. Totals are absolute, never deltas, so a client
 * that misses one event is corrected by the next.
 *
 * Each event is appended to a capped Redis stream per campaign and published on the campaign's channel in
 * one script, so the stream entry id (the SSE event id) exists before anyone can see the message, and ids
 * arrive in publish order. A reconnecting client replays the stream after its Last-Event-ID.
 */
export type CampaignEvent =
  | { type: 'progress'; pledged_cents: number; backer_count: number; percent_funded: number }
  | { type: 'status'; status: string };

export interface StoredCampaignEvent {
  /** Redis stream entry id, `<ms>-<seq>`; increases with every event of the campaign. */
  id: string;
  event: CampaignEvent;
}

/** Enough history for any realistic reconnect gap; older clients get a fresh snapshot instead. */
export const CAMPAIGN_STREAM_MAXLEN = 1000;
/** A quiet campaign's history expires; a client reconnecting after that gets a snapshot. */
const STREAM_TTL_MS = 7 * 24 * 3_600_000;
/** The id before every entry: what a snapshot of a campaign with no events yet is tagged with. */
export const STREAM_START_ID = '0-0';

export const campaignEventsKey = (campaignId: string) => `pledgeflow:campaign:${campaignId}:events`;
export const campaignEventsChannel = (campaignId: string) => `pledgeflow:campaign:${campaignId}:live`;

const PUBLISH_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], '{"id":"' .. id .. '","event":' .. ARGV[2] .. '}')
return id`;

type PublishArgs = [script: string, numKeys: 1, key: string, maxLen: string, event: string, ttlMs: string, channel: string];

const publishArgs = (campaignId: string, event: CampaignEvent): PublishArgs => [
  PUBLISH_SCRIPT,
  1,
  campaignEventsKey(campaignId),
  String(CAMPAIGN_STREAM_MAXLEN),
  JSON.stringify(event),
  String(STREAM_TTL_MS),
  campaignEventsChannel(campaignId),
];

/** Appends and publishes one event; returns its id. */
export async function publishCampaignEvent(redis: RedisClient, campaignId: string, event: CampaignEvent): Promise<string> {
  return String(await redis.eval(...publishArgs(campaignId, event)));
}

/** publishCampaignEvent's command added to a pipeline, to go with others in one round trip. */
export function queueCampaignEvent(pipeline: ChainableCommander, campaignId: string, event: CampaignEvent): void {
  pipeline.eval(...publishArgs(campaignId, event));
}

/**
 * Tells live clients a campaign's new status, after the commit that changed it. Best effort: the row is the
 * truth, and SSE clients re-read it on reconnect.
 */
export async function announceStatus(deps: { redis: RedisClient; logger: Logger }, campaignId: string, status: string): Promise<void> {
  try {
    await publishCampaignEvent(deps.redis, campaignId, { type: 'status', status });
  } catch (err) {
    deps.logger.warn({ err, campaignId, status }, 'campaign status event not published');
  }
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

export function isStreamId(value: string): boolean {
  return STREAM_ID.test(value);
}

/** Orders stream ids numerically (string order is wrong once the millisecond part gains a digit). */
export function compareStreamIds(a: string, b: string): number {
  const [, am = '0', as = '0'] = STREAM_ID.exec(a) ?? [];
  const [, bm = '0', bs = '0'] = STREAM_ID.exec(b) ?? [];
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function toStored(entries: [string, string[]][]): StoredCampaignEvent[] {
  const out: StoredCampaignEvent[] = [];
  for (const [id, fields] of entries) {
    const i = fields.indexOf('event');
    if (i < 0 || fields[i + 1] === undefined) continue;
    out.push({ id, event: JSON.parse(fields[i + 1]!) as CampaignEvent });
  }
  return out;
}

/** Events after `afterId` (exclusive), oldest first. */
export async function readCampaignEventsAfter(redis: RedisClient, campaignId: string, afterId: string, count = CAMPAIGN_STREAM_MAXLEN * 2): Promise<StoredCampaignEvent[]> {
  const entries = (await redis.xrange(campaignEventsKey(campaignId), `(${afterId}`, '+', 'COUNT', count)) as [string, string[]][];
  return toStored(entries);
}

/** The newest event id, or STREAM_START_ID when the campaign has none (or its history expired). */
export async function latestCampaignEventId(redis: RedisClient, campaignId: string): Promise<string> {
  const entries = (await redis.xrevrange(campaignEventsKey(campaignId), '+', '-', 'COUNT', 1)) as [string, string[]][];
  return entries[0]?.[0] ?? STREAM_START_ID;
}

/**
 * Whether replaying after `lastId` is complete: the id is still in the stream (nothing between it and the
 * oldest kept entry was trimmed), or it is the start id and the stream still holds its very first entry.
 */
export async function canReplayAfter(redis: RedisClient, campaignId: string, lastId: string): Promise<boolean> {
  const key = campaignEventsKey(campaignId);
  if (lastId === STREAM_START_ID) {
    const info = (await redis.call('XINFO', 'STREAM', key).catch(() => null)) as unknown[] | null;
    if (!info) return true; // no stream: nothing was published since
    const field = (name: string) => info[info.indexOf(name) + 1];
    return Number(field('entries-added')) === Number(field('length'));
  }
  const found = await redis.xrange(key, lastId, lastId);
  return found.length > 0;
}

/** Parses a message from the campaign channel. */
export function parseCampaignMessage(message: string): StoredCampaignEvent | undefined {
  try {
    const parsed = JSON.parse(message) as Partial<StoredCampaignEvent>;
    if (typeof parsed.id === 'string' && parsed.event && typeof parsed.event === 'object') return parsed as StoredCampaignEvent;
  } catch {
    // a foreign or corrupt message is ignored, never fatal to the stream
  }
  return undefined;
}

/**
 * For callers that want an event published only if their transaction commits (and published even if the
 * process dies right after): queues it in the outbox, whose dispatcher calls publishCampaignEvent.
 */
export async function enqueueCampaignEvent(
  db: Knex | Knex.Transaction,
  input: { campaignId: string; event: CampaignEvent; dedupeKey: string },
): Promise<boolean> {
  const result = await db.raw(
    `INSERT INTO outbox (topic, dedupe_key, payload) VALUES ('campaign_event', ?, jsonb_build_object('campaign_id', ?::uuid, 'event', ?::jsonb))
     ON CONFLICT (dedupe_key) DO NOTHING`,
    [`campaign_event:${input.dedupeKey}`, input.campaignId, JSON.stringify(input.event)],
  );
  return (result.rowCount ?? 0) > 0;
}
