import { useQuery } from '@tanstack/react-query';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../lib/problem';

/** Reads of a drop (API.md, "Drops"): the drop itself, the caller's entry and the published draw. */
export type Drop = Schemas['Drop'];
export type DropEntry = Schemas['DropEntry'];
export type DropDraw = Schemas['DropDraw'];

/** The drop, re-read every few seconds while its status can still move on its own (timers in the workflow). */
export function useDrop(id: string) {
  return useQuery({
    queryKey: ['drop', id],
    queryFn: () => unwrap(api.GET('/v1/drops/{id}', { params: { path: { id } } })),
    refetchInterval: (q) => (q.state.data && ['sold_out', 'closed'].includes(q.state.data.status) ? false : 3_000),
  });
}

/** The caller's entry; null when they have not entered (404), re-read while the draw or a promotion may change it. */
export function useMyEntry(id: string, enabled: boolean) {
  return useQuery({
    queryKey: ['drop', id, 'entry'],
    enabled,
    queryFn: async (): Promise<DropEntry | null> => {
      const res = await api.GET('/v1/drops/{id}/entries/me', { params: { path: { id } } });
      if (res.response.status === 404) return null;
      return unwrap(Promise.resolve(res));
    },
    refetchInterval: (q) => (q.state.data && ['claimed', 'expired', 'lost'].includes(q.state.data.status) ? false : 3_000),
  });
}

export function useDraw(id: string) {
  return useQuery({ queryKey: ['drop', id, 'draw'], queryFn: () => unwrap(api.GET('/v1/drops/{id}/draw', { params: { path: { id } } })), retry: false });
}

export const DROP_STATUS_WORDS: Record<Drop['status'], string> = {
  scheduled: 'Scheduled',
  open: 'Open',
  drawing: 'Drawing',
  claiming: 'Winners claiming',
  sold_out: 'Sold out',
  closed: 'Closed',
};
