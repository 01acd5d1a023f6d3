import { useEffect } from 'react';
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { api, type Schemas } from './client';
import { openAuthedEventStream } from './authedEventStream';
import { unwrap } from '../lib/problem';

export type Notification = Schemas['Notification'];
type NotificationPage = Schemas['NotificationList'];

const LIST_KEY = ['notifications'] as const;
const UNREAD_KEY = ['notifications', 'unread'] as const;
/** The inbox page and the unread count both look at the newest 100 (the API's largest page). */
const PAGE = 100;

export function useNotifications(enabled = true) {
  return useQuery({
    queryKey: LIST_KEY,
    enabled,
    queryFn: () => unwrap(api.GET('/v1/me/notifications', { params: { query: { limit: PAGE } } })),
  });
}

/** How many unread notifications (of the newest 100; "100+" past that is the caller's to say). */
export function useUnreadCount(enabled: boolean) {
  return useQuery({
    queryKey: UNREAD_KEY,
    enabled,
    queryFn: () => unwrap(api.GET('/v1/me/notifications', { params: { query: { limit: PAGE, unread: 'true' } } })),
    select: (page) => ({ count: page.data.length, more: page.next_cursor !== null }),
  });
}

function upsert(queries: QueryClient, n: Notification): void {
  // A known one is replaced where it stands (marked read); a new one goes on top (newest first).
  queries.setQueryData<NotificationPage>(LIST_KEY, (old) =>
    old ? { ...old, data: old.data.some((o) => o.id === n.id) ? old.data.map((o) => (o.id === n.id ? n : o)) : [n, ...old.data] } : old,
  );
  queries.setQueryData<NotificationPage>(UNREAD_KEY, (old) => {
    if (!old) return old;
    const rest = old.data.filter((o) => o.id !== n.id);
    return { ...old, data: n.read_at ? rest : [n, ...rest] };
  });
}

/**
 * New notifications pushed over the signed-in user's stream go straight into the cached inbox and unread
 * count, so the nav badge and an open inbox page change without a reload. One stream per session.
 */
export function useNotificationStream(userId: string | undefined): void {
  const queries = useQueryClient();
  useEffect(() => {
    if (!userId) return;
    return openAuthedEventStream('/v1/me/notifications/stream', (e) => {
      if (e.event !== 'notification') return;
      try {
        upsert(queries, JSON.parse(e.data) as Notification);
      } catch {
        // A malformed event is skipped; the list endpoint stays the source of truth.
      }
    });
  }, [userId, queries]);
}

export function useMarkRead() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/v1/me/notifications/{id}/read', { params: { path: { id } } })),
    onSuccess: (n) => upsert(queries, n),
  });
}
