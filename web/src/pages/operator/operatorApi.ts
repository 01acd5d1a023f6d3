import { useQuery } from '@tanstack/react-query';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../lib/problem';

export type Overview = Schemas['OperatorOverview'];
export type AttentionItem = Schemas['AttentionItem'];
export type AttentionKind = AttentionItem['kind'];
export type QueuedProvider = Schemas['ProviderQueueItem'];

export const OVERVIEW_KEY = ['operator', 'overview'] as const;
export const PENDING_PROVIDERS_KEY = ['operator', 'providers', 'pending'] as const;

export function useOverview() {
  return useQuery({ queryKey: OVERVIEW_KEY, queryFn: () => unwrap(api.GET('/v1/operator/overview')) });
}

export function usePendingProviders() {
  return useQuery({ queryKey: PENDING_PROVIDERS_KEY, queryFn: () => unwrap(api.GET('/v1/operator/providers', { params: { query: { status: 'pending', limit: 50 } } })) });
}

export function useAttention(kind: AttentionKind | undefined) {
  return useQuery({ queryKey: ['operator', 'attention', kind], queryFn: () => unwrap(api.GET('/v1/operator/attention', { params: { query: { kind, limit: 50 } } })) });
}

export function useUserSearch(q: string) {
  return useQuery({ queryKey: ['operator', 'users', q], queryFn: () => unwrap(api.GET('/v1/operator/users', { params: { query: { q: q || undefined, limit: 25 } } })) });
}

/** The Temporal Web UI's workflow list filtered to one business workflow id (the overview names the UI and namespace). */
export function temporalWorkflowUrl(temporal: Overview['temporal'], workflowId: string): string {
  return `${temporal.ui_url}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`;
}
