import type { Knex } from 'knex';

/**
 * Notifications: the in-app inbox row and its outbox push and email are written in the caller's transaction,
 * so a crash loses none and a retried step (same dedupeKey) sends none twice. Each function is one SQL
 * statement: the outbox rows exist exactly when the notification row was newly inserted, and bulk fan-out to a
 * campaign's backers stays set-based however many pledges there are.
 *
 * Outbox dedupe keys are prefixed by channel (`notification:` / `email:` / `webhook:`), because callers
 * naturally use the same key for a creator's in-app notification and the webhook about the same event.
 */
export interface NotificationInput {
  userId: string;
  /** e.g. pledge_received, campaign_succeeded, campaign_failed, campaign_cancelled, payment_failed, pledge_dropped, payment_reminder */
  type: string;
  title: string;
  body?: string;
  data?: Record<string, unknown>;
  /** Unique per logical notification, e.g. `pledge_received:<pledgeId>`. */
  dedupeKey: string;
}

/** The shape pushed to clients and listed by GET /v1/me/notifications, built in SQL from an inserted row `n`. */
const NOTIFICATION_JSON = `jsonb_build_object(
  'id', n.id, 'type', n.type, 'title', n.title, 'body', n.body, 'data', n.data,
  'created_at', to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'read_at', NULL)`;

/**
 * The outbox rows of each notification inserted by a CTE named `n` (used in other statements that notify,
 * too): its push and its email, one row per channel, each unique by its channel-prefixed key. The email's
 * recipient, preferences and template are decided at delivery (src/notifications/email/).
 */
export const PUSH_OUTBOX_INSERT = `
  INSERT INTO outbox (topic, dedupe_key, payload)
  SELECT ch.topic, ch.prefix || n.dedupe_key, jsonb_build_object('user_id', n.user_id, 'notification', ${NOTIFICATION_JSON})
  FROM n CROSS JOIN (VALUES ('notification_push', 'notification:'), ('notification_email', 'email:')) AS ch(topic, prefix)
  ON CONFLICT (dedupe_key) DO NOTHING`;

export const outboxKeyForNotification = (dedupeKey: string) => `notification:${dedupeKey}`;
export const outboxKeyForEmail = (dedupeKey: string) => `email:${dedupeKey}`;
export const outboxKeyForWebhook = (dedupeKey: string) => `webhook:${dedupeKey}`;

/** Returns true when the notification is new, false when `dedupeKey` was already used. */
export async function notify(db: Knex | Knex.Transaction, n: NotificationInput): Promise<boolean> {
  const result = await db.raw(
    `WITH n AS (
       INSERT INTO notifications (user_id, type, title, body, data, dedupe_key)
       VALUES (?, ?, ?, ?, ?::jsonb, ?)
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING *
     ), pushed AS (${PUSH_OUTBOX_INSERT} RETURNING 1)
     SELECT count(*)::int AS inserted FROM n`,
    [n.userId, n.type, n.title, n.body ?? '', JSON.stringify(n.data ?? {}), n.dedupeKey],
  );
  return (result.rows[0]?.inserted ?? 0) > 0;
}

/**
 * Many notifications in one statement (a page of a drop's entrants, say), each deduplicated like `notify`.
 * Returns how many were newly created.
 */
export async function notifyMany(db: Knex | Knex.Transaction, inputs: readonly NotificationInput[]): Promise<number> {
  if (inputs.length === 0) return 0;
  const column = <T>(pick: (n: NotificationInput) => T) => inputs.map(pick);
  const result = await db.raw(
    `WITH batch AS (
       SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::text[]) AS b(user_id, type, title, body, data, dedupe_key)
     ), n AS (
       INSERT INTO notifications (user_id, type, title, body, data, dedupe_key)
       SELECT user_id, type, title, body, data, dedupe_key FROM batch
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING *
     ), pushed AS (${PUSH_OUTBOX_INSERT} RETURNING 1)
     SELECT count(*)::int AS inserted FROM n`,
    [
      column((n) => n.userId),
      column((n) => n.type),
      column((n) => n.title),
      column((n) => n.body ?? ''),
      column((n) => JSON.stringify(n.data ?? {})),
      column((n) => n.dedupeKey),
    ],
  );
  return result.rows[0]?.inserted ?? 0;
}

/**
 * One notification per distinct backer whose pledge on the campaign is in one of `pledgeStatuses` (outcomes,
 * cancellations). Dedupe keys are `${dedupePrefix}:${backerId}`, so a retried call adds only the missing
 * ones. Returns how many were newly created.
 */
export async function notifyBackers(
  db: Knex | Knex.Transaction,
  input: { campaignId: string; pledgeStatuses: readonly string[]; type: string; title: string; body?: string; dedupePrefix: string },
): Promise<number> {
  if (input.pledgeStatuses.length === 0) return 0;
  const result = await db.raw(
    `WITH backers AS (
       SELECT DISTINCT backer_id FROM pledges WHERE campaign_id = ? AND status = ANY(?::text[])
     ), n AS (
       INSERT INTO notifications (user_id, type, title, body, data, dedupe_key)
       SELECT backer_id, ?, ?, ?, jsonb_build_object('campaign_id', ?::uuid), ? || ':' || backer_id::text
       FROM backers
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING *
     ), pushed AS (${PUSH_OUTBOX_INSERT} RETURNING 1)
     SELECT count(*)::int AS inserted FROM n`,
    [input.campaignId, [...input.pledgeStatuses], input.type, input.title, input.body ?? '', input.campaignId, input.dedupePrefix],
  );
  return result.rows[0]?.inserted ?? 0;
}

/**
 * Queues a signed webhook to the campaign owner's URL, when one is configured. Only the campaign id goes into
 * the outbox: URL and secret are read at delivery time, so a rotated secret applies to pending deliveries
 * and the secret is never copied around. `event_id` is fixed here and sent on every attempt, so receivers
 * can drop duplicates. Returns true when a delivery was queued.
 */
export async function enqueueCreatorWebhook(
  db: Knex | Knex.Transaction,
  input: { campaignId: string; event: string; data: Record<string, unknown>; dedupeKey: string },
): Promise<boolean> {
  const result = await db.raw(
    `INSERT INTO outbox (topic, dedupe_key, payload)
     SELECT 'creator_webhook', ?, jsonb_build_object(
       'campaign_id', c.id, 'event', ?::text, 'data', ?::jsonb, 'event_id', 'evt_' || replace(gen_random_uuid()::text, '-', ''))
     FROM campaigns c
     WHERE c.id = ? AND c.webhook_url IS NOT NULL
     ON CONFLICT (dedupe_key) DO NOTHING`,
    [outboxKeyForWebhook(input.dedupeKey), input.event, JSON.stringify(input.data), input.campaignId],
  );
  return (result.rowCount ?? 0) > 0;
}
