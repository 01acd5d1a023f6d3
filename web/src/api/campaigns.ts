import { useQuery } from '@tanstack/react-query';
import { usePages } from '../lib/usePages';
import { api, type Schemas } from './client';
import { unwrap } from '../lib/problem';

export type Campaign = Schemas['Campaign'];
export type CampaignCategory = Campaign['category'];
export type CampaignStatus = Campaign['status'];

export const CATEGORIES: CampaignCategory[] = ['charity', 'business', 'personal', 'creative', 'technology', 'community', 'other'];
export const PUBLIC_STATUSES: CampaignStatus[] = ['live', 'scheduled', 'succeeded', 'failed', 'cancelled', 'settled'];

export interface CampaignFilters {
  category?: CampaignCategory;
  status?: CampaignStatus;
  q?: string;
  limit?: number;
}

export function useCampaigns(filters: CampaignFilters) {
  return useQuery({
    queryKey: ['campaigns', filters],
    queryFn: () => unwrap(api.GET('/v1/campaigns', { params: { query: { ...filters, limit: filters.limit ?? 24 } } })),
  });
}

/** Discovery's list, page by page ("Load more"). */
export function useCampaignPages(filters: CampaignFilters) {
  return usePages(['campaigns', 'pages', filters], (cursor) =>
    unwrap(api.GET('/v1/campaigns', { params: { query: { ...filters, limit: filters.limit ?? 24, cursor } } })),
  );
}

export function useCampaign(id: string) {
  return useQuery({
    queryKey: ['campaign', id],
    queryFn: () => unwrap(api.GET('/v1/campaigns/{id}', { params: { path: { id } } })),
  });
}
