import http from 'node:http';
import https from 'node:https';
import type { Knex } from 'knex';
import type { ActivityDeps } from '../workers/deps';
import { publishCampaignEvent, type CampaignEvent } from '../campaigns/events';
import { webhookUrlProblem } from './webhookUrl';
import { errorText } from '../infra/dependencies';
import { userNotificationsChannel, type NotificationJson } from './push';
import { webhookHeaders } from './webhookSignature';
import { startPollLoop, retryDelay as backoff } from './pollLoop';
import { startEmailLane, type EmailLaneOptions } from './email/emailLane';

/**
 * Delivers outbox rows from the worker process: notification pushes (Redis PUBLISH to the user's channel),
 * creator webhooks (signed HTTP POST) and campaign events.
 *
 * Each round claims due rows with FOR UPDATE SKIP LOCKED inside a transaction, delivers them, and records
 * the outcome in that same transaction. Any number of dispatchers can run side by side without delivering a
 * row twice; a dispatcher that dies mid-batch releases its locks with its connection and the rows are picked
 * up again (at-least-once across crashes, which is why webhooks carry a stable event id and pushes a stable
 * notification id for receivers to dedupe on). Failures back off exponentially; after MAX_ATTEMPTS the row
 * is parked (kept, with its last error, never due again) for an operator to inspect.
 *
 * Email rows go through their own lane, started here beside this one (email/emailLane.ts): SMTP is slower
 * and a resent email is seen by a person, so they are claimed with leases and marked one by one instead.
 */
export interface OutboxDispatcher {
  /** Stops polling and waits for an in-flight delivery to finish. */
  stop(): Promise<void>;
}

export interface OutboxDispatcherOptions {
  /** Pause between rounds when there was nothing (more) to do; default OUTBOX_POLL_INTERVAL. */
  pollIntervalMs?: number;
  batchSize?: number;
  /** Webhook requests in flight at once within a batch (one slow receiver must not stall the rest). */
  concurrency?: number;
  /** First retry delay; doubles per attempt up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
  webhookTimeoutMs?: number;
  /** The email lane started beside this one (its own claims, leases and SMTP). */
  email?: EmailLaneOptions;
}

const DEFAULTS = {
  batchSize: 50,
  concurrency: 10,
  retryBaseMs: 1_000,
  retryMaxMs: 3_600_000,
  maxAttempts: 15,
  webhookTimeoutMs: 5_000,
};

interface OutboxRow {
  id: number;
  topic: string;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
}

type Outcome = { result: 'delivered' | 'skipped'; note?: string } | { result: 'failed'; error: string };

export function startOutboxDispatcher(deps: ActivityDeps, options: OutboxDispatcherOptions = {}): OutboxDispatcher {
  const { db, logger } = deps;
  const opts = { ...DEFAULTS, pollIntervalMs: deps.config.OUTBOX_POLL_INTERVAL, ...options };
  const deliveries = deps.metrics.counter('outbox_deliveries_total', 'Outbox delivery attempts by topic and result', ['topic', 'result']);
  const roundErrors = deps.metrics.counter('outbox_dispatcher_errors_total', 'Outbox rounds that failed as a whole (database or Redis unavailable)');
  const log = logger.child({ component: 'outbox-dispatcher' });

  async function round(): Promise<number> {
    return db.transaction(async (trx) => {
      // Due order, then id: exactly outbox_other_pending_idx, so a backlog of 100k rows is not sorted every
      // round. Emails have their own lane (email/emailLane.ts): SMTP is not waited on inside this transaction.
      const { rows } = (await trx.raw(
        `SELECT id, topic, payload, attempts, created_at FROM outbox
         WHERE delivered_at IS NULL AND next_attempt_at <= now() AND topic <> 'notification_email'
         ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [opts.batchSize],
      )) as { rows: OutboxRow[] };
      if (rows.length === 0) return 0;
      const outcomes = await deliverAll(trx, rows);
      await record(trx, rows, outcomes);
      return rows.length;
    });
  }

  async function deliverAll(trx: Knex.Transaction, rows: OutboxRow[]): Promise<Map<number, Outcome>> {
    const outcomes = new Map<number, Outcome>();
    const pushes = rows.filter((r) => r.topic === 'notification_push');
    const webhooks = rows.filter((r) => r.topic === 'creator_webhook');
    for (const r of rows) {
      if (r.topic !== 'notification_push' && r.topic !== 'creator_webhook' && r.topic !== 'campaign_event') {
        outcomes.set(r.id, { result: 'failed', error: `unknown topic ${r.topic}` });
      }
    }
    for (const r of rows.filter((row) => row.topic === 'campaign_event')) outcomes.set(r.id, await deliverCampaignEvent(r));
    if (pushes.length) for (const [id, o] of await deliverPushes(pushes)) outcomes.set(id, o);
    if (webhooks.length) for (const [id, o] of await deliverWebhooks(trx, webhooks)) outcomes.set(id, o);
    return outcomes;
  }

  /** One pipelined round trip for the whole batch, so a bulk outcome (100k backers) drains quickly. */
  async function deliverPushes(rows: OutboxRow[]): Promise<Map<number, Outcome>> {
    const outcomes = new Map<number, Outcome>();
    const sent: OutboxRow[] = [];
    const pipeline = deps.redis.pipeline();
    for (const r of rows) {
      const userId = r.payload.user_id;
      const notification = r.payload.notification as NotificationJson | undefined;
      if (typeof userId !== 'string' || !notification || typeof notification !== 'object') {
        outcomes.set(r.id, { result: 'failed', error: 'malformed notification_push payload' });
        continue;
      }
      sent.push(r);
      pipeline.publish(userNotificationsChannel(userId), JSON.stringify(notification));
    }
    if (sent.length === 0) return outcomes;
    let results: [Error | null, unknown][];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (err) {
      // Recorded per row rather than failing the round, which would redeliver this batch's webhooks.
      for (const r of sent) outcomes.set(r.id, { result: 'failed', error: errorText(err) });
      return outcomes;
    }
    sent.forEach((r, i) => {
      const err = results[i]?.[0];
      outcomes.set(r.id, err ? { result: 'failed', error: errorText(err) } : { result: 'delivered' });
    });
    return outcomes;
  }

  async function deliverCampaignEvent(r: OutboxRow): Promise<Outcome> {
    const campaignId = r.payload.campaign_id;
    const event = r.payload.event as CampaignEvent | undefined;
    if (typeof campaignId !== 'string' || !event) return { result: 'failed', error: 'malformed campaign_event payload' };
    try {
      await publishCampaignEvent(deps.redis, campaignId, event);
      return { result: 'delivered' };
    } catch (err) {
      return { result: 'failed', error: errorText(err) };
    }
  }

  async function deliverWebhooks(trx: Knex.Transaction, rows: OutboxRow[]): Promise<Map<number, Outcome>> {
    const outcomes = new Map<number, Outcome>();
    const campaignIds = [...new Set(rows.map((r) => String(r.payload.campaign_id)))];
    // Read at delivery time: a rotated secret or changed URL applies to what is still pending.
    const targets = new Map<string, { webhook_url: string | null; webhook_secret: string | null }>(
      (
        (await trx('campaigns').whereIn('id', campaignIds.filter(isUuid)).select('id', 'webhook_url', 'webhook_secret')) as {
          id: string;
          webhook_url: string | null;
          webhook_secret: string | null;
        }[]
      ).map((c) => [c.id, c]),
    );
    const queue = [...rows];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        const target = targets.get(String(r.payload.campaign_id));
        if (!target?.webhook_url || !target.webhook_secret) {
          outcomes.set(r.id, { result: 'skipped', note: 'campaign has no webhook configured any more' });
          continue;
        }
        // Re-checked at delivery: the rules may have tightened since the URL was stored.
        const refused = webhookUrlProblem(target.webhook_url, { allowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE_URLS });
        if (refused) {
          outcomes.set(r.id, { result: 'skipped', note: `webhook URL refused: ${refused}` });
          continue;
        }
        outcomes.set(r.id, await sendWebhook(r, target.webhook_url, target.webhook_secret));
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, rows.length) }, worker));
    return outcomes;
  }

  async function sendWebhook(r: OutboxRow, url: string, secret: string): Promise<Outcome> {
    const eventId = String(r.payload.event_id);
    // The body is identical on every attempt; only the timestamp and signature headers change.
    const body = JSON.stringify({
      id: eventId,
      type: r.payload.event,
      created_at: r.created_at.toISOString(),
      campaign_id: r.payload.campaign_id,
      data: r.payload.data ?? {},
    });
    try {
      const status = await postJson(url, body, webhookHeaders(secret, eventId, body), opts.webhookTimeoutMs);
      return status >= 200 && status < 300 ? { result: 'delivered' } : { result: 'failed', error: `receiver answered HTTP ${status}` };
    } catch (err) {
      return { result: 'failed', error: errorText(err) };
    }
  }

  async function record(trx: Knex.Transaction, rows: OutboxRow[], outcomes: Map<number, Outcome>): Promise<void> {
    const done: number[] = [];
    const doneNotes: string[] = [];
    const failed: { id: number; error: string; delayMs: number; giveUp: boolean }[] = [];
    for (const r of rows) {
      const o = outcomes.get(r.id) ?? { result: 'failed', error: 'not attempted' };
      const topic = r.topic;
      if (o.result === 'failed') {
        const attempts = r.attempts + 1;
        const giveUp = attempts >= opts.maxAttempts;
        failed.push({ id: r.id, error: o.error.slice(0, 1000), delayMs: retryDelay(attempts), giveUp });
        deliveries.inc({ topic, result: giveUp ? 'gave_up' : 'failed' });
        const fields = { outboxId: r.id, topic, attempts, error: o.error };
        if (giveUp) log.error(fields, 'outbox delivery failed for the last time; row parked');
        else log.warn(fields, 'outbox delivery failed; will retry');
      } else {
        done.push(r.id);
        doneNotes.push(o.result === 'skipped' ? `skipped: ${o.note ?? ''}` : '');
        deliveries.inc({ topic, result: o.result });
      }
    }
    if (done.length) {
      await trx.raw(
        `UPDATE outbox o SET delivered_at = now(), attempts = o.attempts + 1, last_error = coalesce(nullif(d.note, ''), o.last_error)
         FROM unnest(?::bigint[], ?::text[]) AS d(id, note) WHERE o.id = d.id`,
        [done, doneNotes],
      );
    }
    if (failed.length) {
      await trx.raw(
        `UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error,
           next_attempt_at = CASE WHEN f.give_up THEN 'infinity'::timestamptz ELSE now() + f.delay_ms * interval '1 millisecond' END
         FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::boolean[]) AS f(id, error, delay_ms, give_up) WHERE o.id = f.id`,
        [failed.map((f) => f.id), failed.map((f) => f.error), failed.map((f) => f.delayMs), failed.map((f) => f.giveUp)],
      );
    }
  }

  const retryDelay = (attempts: number) => backoff(attempts, opts.retryBaseMs, opts.retryMaxMs);

  const loop = startPollLoop({ round, batchSize: opts.batchSize, pollIntervalMs: opts.pollIntervalMs, log, onRoundError: () => roundErrors.inc() });
  const emails = startEmailLane(deps, { pollIntervalMs: opts.pollIntervalMs, ...options.email });

  return {
    stop: async () => {
      await Promise.all([loop.stop(), emails.stop()]);
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (s: string) => UUID.test(s);

/**
 * POSTs a JSON body; resolves with the status code. No connection reuse (receivers are many and each sees
 * few requests), no redirects followed (a signed delivery goes only where the creator configured), and the
 * timeout covers the whole exchange.
 */
function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new Error('invalid webhook URL'));
      return;
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      reject(new Error(`unsupported webhook URL scheme ${target.protocol}`));
      return;
    }
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(target, {
      method: 'POST',
      agent: false,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        ...headers,
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        'User-Agent': 'Pledgeflow-Webhooks/1',
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', (err) => reject(err.name === 'AbortError' ? new Error(`no answer within ${timeoutMs} ms`) : err));
    req.end(body);
  });
}
