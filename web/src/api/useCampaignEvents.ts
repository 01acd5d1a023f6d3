import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { Campaign } from './campaigns';

interface ProgressEvent {
  pledged_cents: number;
  backer_count: number;
  percent_funded: number;
}

/**
 * Live campaign totals over Server-Sent Events: each `progress` or `status` event is written into the cached
 * campaign, so every view of it updates without a reload. EventSource reconnects by itself and resumes with
 * Last-Event-ID, so nothing is missed across a dropped connection.
 */
export function useCampaignEvents(id: string, enabled: boolean): void {
  const queries = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource(`/v1/campaigns/${id}/events`);
    const patch = (change: Partial<Campaign>) =>
      queries.setQueryData<Campaign>(['campaign', id], (old) => (old ? { ...old, ...change } : old));
    source.addEventListener('progress', (e) => {
      const p = JSON.parse((e as MessageEvent<string>).data) as ProgressEvent;
      patch({ pledged_cents: p.pledged_cents, backer_count: p.backer_count, percent_funded: p.percent_funded });
    });
    source.addEventListener('status', (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as { status: Campaign['status'] };
      patch({ status: s.status });
    });
    return () => source.close();
  }, [id, enabled, queries]);
}
