import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { problems } from '../http/problem';
import type { AppDeps } from '../deps';
import { lastEventId, liveUpdatesUnavailable, openSse, bufferedSubscription } from '../http/sse';
import { registerCampaignEventsRoutes } from '../campaigns/campaignEventRoutes';
import { registerEmailPreferenceRoutes } from './emailPreferenceRoutes';
import { pushHub, userNotificationsChannel, type NotificationJson } from '../../notifications/push';

/**
 * The in-app inbox (GET /v1/me/notifications, mark as read) and its live stream. Notifications are written
 * by notify() in the transaction of whatever caused them; the outbox dispatcher publishes each one on the
 * user's Redis channel, from which every API replica pushes it to that user's open streams.
 */
export const NotificationSchema = z
  .object({
    id: z.uuid(),
    type: z.string(),
    title: z.string(),
    body: z.string(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
    read_at: z.iso.datetime().nullable(),
  })
  .openapi('Notification');

const NotificationListSchema = z
  .object({ data: z.array(NotificationSchema), next_cursor: z.string().nullable() })
  .openapi('NotificationList');

const ListQuery = z.object({
  ...pageQuery,
  unread: z.enum(['true', 'false']).optional().openapi({ description: '`true`: only notifications not yet marked as read.' }),
});

/** Replayed on reconnect at most; an inbox further behind than this is for the list endpoint. */
const MAX_STREAM_REPLAY = 100;

interface NotificationRow {
  id: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: Date;
  read_at: Date | null;
}

const COLUMNS = ['id', 'type', 'title', 'body', 'data', 'created_at', 'read_at'] as const;

function toJson(row: NotificationRow): NotificationJson {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    body: row.body,
    data: row.data,
    created_at: row.created_at.toISOString(),
    read_at: row.read_at ? row.read_at.toISOString() : null,
  };
}

// A cursor names the last row seen; its exact created_at is looked up when the next page is asked for.
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!z.uuid().safeParse(id).success) throw problems.validation([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
  return id;
}

export function registerNotificationsRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/me/notifications',
      operationId: 'listMyNotifications',
      summary: 'My notifications, newest first',
      tags: ['Notifications'],
      auth: 'user',
      query: ListQuery,
      responses: { 200: { description: 'A page of notifications', schema: NotificationListSchema } },
    },
    async ({ query, principal }) => {
      const userId = principal!.id;
      // Newest first, ties by id ascending: exactly the order of notifications_user_created_idx.
      const q = db('notifications as n').where('n.user_id', userId).select(COLUMNS.map((c) => `n.${c}`));
      if (query.unread === 'true') q.whereNull('n.read_at');
      if (query.cursor) {
        // created_at as text keeps its microseconds, which a JS Date would drop (and then skip or repeat rows).
        const after = (await db('notifications')
          .where({ id: decodeCursor(query.cursor), user_id: userId })
          .first(db.raw('created_at::text AS at'), 'id')) as { at: string; id: string } | undefined;
        if (!after) throw problems.validation([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
        q.whereRaw('(n.created_at < ?::timestamptz OR (n.created_at = ?::timestamptz AND n.id > ?))', [after.at, after.at, after.id]);
      }
      const rows = (await q.orderBy([{ column: 'n.created_at', order: 'desc' }, { column: 'n.id', order: 'asc' }]).limit(query.limit + 1)) as NotificationRow[];
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return { status: 200, body: { data: page.map(toJson), next_cursor: rows.length > query.limit && last ? encodeCursor(last.id) : null } };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/me/notifications/{id}/read',
      operationId: 'markNotificationRead',
      summary: 'Mark one of my notifications as read',
      tags: ['Notifications'],
      auth: 'user',
      params: uuidParam('id'),
      responses: { 200: { description: 'The notification, with read_at set', schema: NotificationSchema }, 404: { description: 'Not one of my notifications' } },
    },
    async ({ params, principal }) => {
      // Marking twice keeps the first read time.
      const [row] = (await db('notifications')
        .where({ id: params.id, user_id: principal!.id })
        .update({ read_at: db.raw('coalesce(read_at, now())') })
        .returning([...COLUMNS])) as NotificationRow[];
      if (!row) throw problems.notFound('notification');
      return { status: 200, body: toJson(row) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/notifications/stream',
      operationId: 'streamMyNotifications',
      summary: 'Server-Sent Events: each new notification as `event: notification` (resume with Last-Event-ID)',
      tags: ['Notifications'],
      auth: 'user',
      responses: { 200: { description: 'An event stream', schema: z.string(), contentType: 'text/event-stream' } },
    },
    async ({ req, res, principal, log }) => {
      const userId = principal!.id;
      // Subscribe before reading the replay, buffering live pushes, so nothing falls between the two.
      const live = await bufferedSubscription((onMessage) => pushHub(deps.redis, deps.logger).subscribe(userNotificationsChannel(userId), onMessage)).catch((err: unknown) => {
        throw liveUpdatesUnavailable(err, log);
      });
      const { unsubscribe } = live;
      try {
        const since = lastEventId(req);
        const replay = since && z.uuid().safeParse(since).success ? await notificationsAfter(userId, since) : [];

        const stream = openSse(req, res, { keepAliveMs: deps.config.SSE_KEEPALIVE });
        stream.onClose(unsubscribe);
        // A notification can be in the replay and then pushed when the dispatcher catches up: send it once.
        const sent = new Set<string>();
        const forward = (message: string) => {
          let notification: NotificationJson;
          try {
            notification = JSON.parse(message) as NotificationJson;
          } catch {
            return;
          }
          if (typeof notification?.id !== 'string' || sent.has(notification.id)) return;
          stream.send({ event: 'notification', id: notification.id, data: notification });
        };
        for (const n of replay) {
          stream.send({ event: 'notification', id: n.id, data: n });
          sent.add(n.id);
        }
        live.goLive(forward);
      } catch (err) {
        unsubscribe();
        throw liveUpdatesUnavailable(err, log);
      }
    },
  );

  async function notificationsAfter(userId: string, lastId: string): Promise<NotificationJson[]> {
    const rows = (await db('notifications as n')
      .join('notifications as last', function () {
        this.on('last.id', '=', db.raw('?', [lastId])).andOn('last.user_id', '=', 'n.user_id');
      })
      .where('n.user_id', userId)
      .andWhere((w) => w.where('n.created_at', '>', db.ref('last.created_at')).orWhere((t) => t.where('n.created_at', '=', db.ref('last.created_at')).andWhere('n.id', '<', db.ref('last.id'))))
      .select(COLUMNS.map((c) => `n.${c}`))
      .orderBy([{ column: 'n.created_at', order: 'asc' }, { column: 'n.id', order: 'desc' }])
      .limit(MAX_STREAM_REPLAY)) as NotificationRow[];
    return rows.map(toJson);
  }

  registerCampaignEventsRoutes(api, deps);
  registerEmailPreferenceRoutes(api, deps);
}
