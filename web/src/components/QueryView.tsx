import type { ReactNode } from 'react';
import type { UseQueryResult } from '@tanstack/react-query';
import { Empty, ErrorBox, Loading } from './states';

/**
 * A query's three states before its content: loading, the problem with a retry, and (for a list answer,
 * `{data: [...]}`) the `empty` sentence when it has nothing. Otherwise `children` renders the data.
 */
export function QueryView<T>({ query, what, empty, children }: { query: UseQueryResult<T>; what: string; empty?: ReactNode; children: (data: T) => ReactNode }) {
  if (query.isPending) return <Loading what={what} />;
  if (query.isError) return <ErrorBox error={query.error} retry={() => void query.refetch()} />;
  const list = (query.data as { data?: unknown }).data;
  if (empty !== undefined && Array.isArray(list) && list.length === 0) return <Empty>{empty}</Empty>;
  return <>{children(query.data)}</>;
}
